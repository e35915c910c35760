// `npm start -- --no-open --port P`: prints the URL, serves the app until stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const env = { ...process.env, SQUEEZE_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'squeeze-start-')) };
const START = ['--import', 'tsx', 'main/app/start.ts'];

test('browser mode prints a tokened URL, serves the app with it and refuses without it', async () => {
  const child = spawn(process.execPath, [...START, '--browser', '--no-open', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const m = /running at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code} before printing a URL: ${out}`)));
    });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Squeeze<\/title>/);
    assert.equal((await fetch(new URL('/', url))).status, 403);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});

test('a bad --port is a usage error', () => {
  const r = spawnSync(process.execPath, [...START, '--browser', '--no-open', '--port', 'http'], { env, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--port must be a port number/);
});
