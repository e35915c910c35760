// The `squeeze` command as a user runs it: JSON output, exit codes, and bad model files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { smollm2Path } from './support/models.ts';

function squeeze(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/squeeze.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

test('info --json describes SmolLM2', () => {
  const r = squeeze('info', smollm2Path(), '--json');
  assert.equal(r.code, 0, r.stderr);
  const info = r.json();
  assert.equal(info.arch, 'llama');
  assert.equal(info.nLayers, 30);
  assert.equal(info.nEmbd, 576);
  assert.equal(info.nHeads, 9);
  assert.equal(info.nKvHeads, 3);
  assert.equal(info.nVocab, 49152);
  assert.equal(info.nCtxTrain, 8192);
  assert.equal(info.tiedOutput, true);
  assert.deepEqual(info.tensorTypes, { Q8_0: 1, F32: 61, Q4_1: 210 });
});

test('tokenize --json gives ids and pieces', () => {
  const r = squeeze('tokenize', '--model', smollm2Path(), '--text', 'Hello world', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = r.json();
  assert.deepEqual(out.pieces.join(''), 'Hello world');
  assert.equal(out.tokens.length, 2);
});

test('run --json returns tokens, text and timings', () => {
  const r = squeeze('run', '--model', smollm2Path(), '--prompt', 'What is 2+2?', '--chat', '--max-tokens', '12', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = r.json();
  assert.ok(out.tokens.length > 0 && out.tokens.length <= 12);
  assert.equal(typeof out.text, 'string');
  assert.ok(out.timings.prefillTokensPerSecond > 0);
  assert.ok(out.timings.nPrompt > 5);
});

test('bad usage exits 2 with the usage text', () => {
  const r = squeeze('run', '--prompt', 'x');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing --model/);
  assert.equal(squeeze('frobnicate').code, 2);
  assert.equal(squeeze('run', '--model', smollm2Path(), '--prompt', 'x', '--max-tokens', 'many').code, 2);
});

test('bad model files exit 3 with a coded reason, never a crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'squeeze-cli-'));
  const real = readFileSync(smollm2Path());
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty.gguf', Buffer.alloc(0), /^GGUF_/],
    ['magic.gguf', Buffer.from('NOPE' + 'x'.repeat(60)), /^GGUF_MAGIC$/],
    ['truncated.gguf', real.subarray(0, 1_000_000), /^GGUF_TRUNCATED$/],
    ['header-only.gguf', real.subarray(0, 24), /^GGUF_TRUNCATED$/],
  ];
  for (const [name, bytes, code] of cases) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    const r = squeeze('info', path, '--json');
    assert.equal(r.code, 3, `${name}: ${r.stderr}`);
    assert.match(r.json().error.code, code, name);
    assert.ok(r.json().error.message.length > 10, name);
  }
  const missing = squeeze('info', join(dir, 'nope.gguf'), '--json');
  assert.equal(missing.code, 3);
  assert.equal(missing.json().error.code, 'GGUF_OPEN');
});
