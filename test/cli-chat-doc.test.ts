// `squeeze chat --doc` as a user runs it, with questions piped on stdin: the pack is built and then
// loaded, each answer is followed by its stats and sources, the second turn reuses the first
// turn's KV, and the commands change the mode and print stats.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { plantedDocument, plantedPdf } from './citations/planted-facts.ts';
import { smollm2Path } from './support/models.ts';

const dir = mkdtempSync(join(tmpdir(), 'sq-cli-chat-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const doc = join(dir, 'museum.pdf');
writeFileSync(doc, plantedPdf(plantedDocument(1)));

function chat(input: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/squeeze.js', 'chat', '--model', smollm2Path(), '--doc', doc, '--pack-dir', join(dir, 'packs'), ...args], {
    input,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FOOTER = /\[(\w+)[^\]]*sparsity ([\d.]+)%, KV read [\d.]+ of [\d.]+ MiB; (\d+) new tokens \((\d+) reused\), (\d+) generated/g;

test('chat --doc: answers with stats and sources, the second turn reuses the first, commands work', () => {
  const r = chat(
    ['Who is the night guard of the museum?', 'Where was the founder of the museum born?', '/stats', '/sparsity 0.7', 'What is the museum cat called?', '/sparsity 1.5', '/quit', 'never asked'].join('\n') + '\n',
    '--dense',
    '--max-tokens',
    '24',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+ tokens of 8192 in the model's context \(\d+%\), 1024 kept for the conversation: fits\n {2}museum\.pdf: 10 page\(s\), \d+ tokens\npack build: /m);
  assert.match(r.stdout, /pack built in [\d.]+ s/);
  const footers = [...r.stdout.matchAll(FOOTER)].map((m) => ({ mode: m[1], sparsity: Number(m[2]), fresh: Number(m[3]), reused: Number(m[4]) }));
  assert.equal(footers.length, 3, r.stdout);
  assert.deepEqual(footers.map((f) => f.mode), ['all', 'all', 'sparsity']);
  assert.equal(footers[0].sparsity, 0);
  assert.ok(Math.abs(footers[2].sparsity - 70) <= 5, `achieved ${footers[2].sparsity}%`);
  // Turn 2 evaluates only its own question: the first turn's tokens come from the cache.
  assert.ok(footers[1].reused > footers[0].reused + footers[0].fresh, JSON.stringify(footers));
  assert.ok(footers[1].fresh < 30, JSON.stringify(footers));
  assert.equal((r.stdout.match(/^sources: museum\.pdf p\.\d+ \d+%/gm) ?? []).length, 3);
  assert.match(r.stdout, /> Who is the night guard of the museum\?\n[^\n]*Tobias Wren/, 'the first answer names the planted guard');
  assert.match(r.stdout, /achieved sparsity 0\.0% of \d+ document tokens/);
  assert.match(r.stdout, /time: lookup [\d.]+ ms, attention [\d.]+ ms \(document keys [\d.]+, conversation [\d.]+, merge [\d.]+\), the rest [\d.]+ ms/);
  assert.match(r.stdout, /\[sparsity 0\.7: the least relevant 70% of document keys are skipped\]/);
  assert.match(r.stdout, /usage: \/sparsity S with S in \[0, 1\)/);
  assert.doesNotMatch(r.stdout, /never asked\n[^>]/, 'nothing is answered after /quit');
});

test('chat --doc again loads the pack; end of input ends the chat', () => {
  const r = chat('');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pack loaded in [\d.]+ s/);
});
