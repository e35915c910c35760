// `squeeze ingest --plan` and the document errors of `ingest` / `ask` as a user meets them: the plan
// (tokens vs context, skips, ETA from a timed prefill and then from the last build), documents that
// do not fit (exit 3, listed, --only to choose), and every kind of bad input → exit 3 with its code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { makeDocx, para } from './docs/make-docx.ts';
import { smollm2Path } from './support/models.ts';

const fixtures = join(import.meta.dirname, 'fixtures', 'docs');
const dir = mkdtempSync(join(tmpdir(), 'sq-cli-docs-'));
const packDir = join(dir, 'packs');
after(() => rmSync(dir, { recursive: true, force: true }));

function squeeze(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/squeeze.js', ...args, '--model', smollm2Path(), '--pack-dir', packDir, '--json'], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

function folder(name: string, files: Record<string, string | Uint8Array>): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(root, file), content);
  return root;
}

test('ingest --plan: tokens against the context, skipped files, an ETA from a timed prefill, then from the last build', () => {
  const root = folder('notes', { 'a.md': 'The meeting is on Thursday at the harbour office.\n', 'logo.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13]) });
  const first = squeeze('ingest', '--doc', root, '--plan');
  assert.equal(first.code, 0, first.stderr);
  const plan = first.json().plan;
  assert.deepEqual(plan.documents.map((d: { source: string }) => d.source), ['a.md']);
  assert.deepEqual(plan.skipped.map((s: { source: string; code: string }) => [s.source, s.code]), [['logo.png', 'FILE_BINARY']]);
  assert.equal(plan.contextSize, 8192);
  assert.equal(plan.fits, true);
  assert.equal(plan.rate.source, 'calibration');
  assert.ok(plan.rate.tokensPerSecond > 0 && plan.etaSeconds > 0);

  const built = squeeze('ingest', '--doc', root);
  assert.equal(built.code, 0, built.stderr);
  const pack = built.json().pack;
  assert.equal(pack.built, true);
  assert.ok(Math.abs(pack.nFixed - plan.tokens) <= 4, `plan ${plan.tokens} tokens, pack ${pack.nFixed}`);
  const again = squeeze('ingest', '--doc', root, '--plan').json().plan;
  assert.equal(again.rate.source, 'last-build');
  assert.equal(again.rate.tokens, pack.nFixed);
});

test('documents that do not fit: ingest and ask exit 3 listing the files; --only keeps the chosen ones', () => {
  const license = readFileSync(join(fixtures, 'apache-license-2.0.txt'));
  const root = folder('licenses', { 'a.txt': license, 'b.txt': license, 'c.txt': license, 'd.txt': license });
  const r = squeeze('ingest', '--doc', root);
  assert.equal(r.code, 3, r.stderr);
  const error = r.json().error;
  assert.equal(error.code, 'DOCUMENTS_TOO_LARGE');
  assert.match(error.message, /the model's context holds 8192/);
  for (const name of ['a.txt', 'b.txt', 'c.txt', 'd.txt']) assert.match(error.message, new RegExp(`${name}: \\d+ tokens`));
  assert.match(error.message, /--only /);
  const asked = squeeze('ask', '--doc', root, 'What does the license grant?');
  assert.equal(asked.code, 3);
  assert.equal(asked.json().error.code, 'DOCUMENTS_TOO_LARGE');
  const chosen = squeeze('ingest', '--doc', root, '--only', 'a.txt,c.txt', '--plan');
  assert.equal(chosen.code, 0, chosen.stderr);
  assert.deepEqual(chosen.json().plan.documents.map((d: { source: string }) => d.source), ['a.txt', 'c.txt']);
  assert.equal(chosen.json().plan.fits, true);
  assert.equal(squeeze('ingest', '--doc', root, '--only', 'e.txt', '--plan').json().error.code, 'FILE_NOT_FOUND');
});

test('a folder of 10,000 small files: planned, and too large with a count instead of 10,000 lines', () => {
  const root = join(dir, 'many');
  mkdirSync(root);
  for (let i = 0; i < 10_000; i++) writeFileSync(join(root, `note-${String(i).padStart(5, '0')}.txt`), `Note ${i}: the tide was high at ${i % 24} o'clock.\n`);
  const r = squeeze('ingest', '--doc', root);
  assert.equal(r.code, 3, r.stderr);
  const { code, message } = r.json().error;
  assert.equal(code, 'DOCUMENTS_TOO_LARGE');
  assert.match(message, /… and 9980 more: \d+ tokens/);
  assert.ok(message.split('\n').length < 30, `${message.split('\n').length} lines`);
});

test('bad inputs through ingest and ask: exit 3 with the code and a reason naming the file', () => {
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  for (const name of ['corrupt.pdf', 'encrypted.pdf', 'scanned.pdf']) copyFileSync(join(fixtures, name), join(bad, name));
  writeFileSync(join(bad, 'empty.txt'), '');
  writeFileSync(join(bad, 'broken.docx'), makeDocx(para('A memo.')).subarray(0, 60));
  writeFileSync(join(bad, 'blob.bin'), new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0, 1, 2, 3]));
  symlinkSync('loop.txt', join(bad, 'loop.txt'));
  mkdirSync(join(bad, 'empty-folder'));
  const fifo = join(bad, 'pipe');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const cases: Array<[string, string, RegExp]> = [
    ['corrupt.pdf', 'PDF_CORRUPT', /corrupt\.pdf is not a readable PDF/],
    ['encrypted.pdf', 'PDF_ENCRYPTED', /encrypted\.pdf is password-protected/],
    ['scanned.pdf', 'PDF_NO_TEXT', /scanned\.pdf has no text layer.*OCR/],
    ['empty.txt', 'FILE_EMPTY', /empty\.txt is empty \(0 bytes\)/],
    ['broken.docx', 'DOCX_CORRUPT', /broken\.docx is not a readable Word document/],
    ['blob.bin', 'FILE_BINARY', /blob\.bin was skipped: binary file/],
    ['loop.txt', 'SYMLINK_LOOP', /loop\.txt is a symbolic link in a loop/],
    ['pipe', 'FILE_UNREADABLE', /pipe is not a regular file/],
    ['empty-folder', 'FOLDER_EMPTY', /empty-folder contains no documents/],
    ['missing.pdf', 'FILE_NOT_FOUND', /missing\.pdf does not exist/],
  ];
  for (const [name, code, message] of cases) {
    for (const command of [['ingest'], ['ask', 'What is it about?']]) {
      const r = squeeze(command[0], '--doc', join(bad, name), ...command.slice(1));
      assert.equal(r.code, 3, `${command[0]} ${name}: ${r.stderr}`);
      assert.equal(r.json().error.code, code, `${command[0]} ${name}`);
      assert.match(r.json().error.message, message, `${command[0]} ${name}`);
      assert.match(r.stderr, new RegExp(`\\[${code}\\]`));
    }
  }
});
