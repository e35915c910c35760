// `squeeze ingest` and `squeeze ask` as a user runs them: the pack is built once and reused, --json
// carries the answer, stats and citations, and bad usage or a bad document gives the right exit code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { smollm2Path } from './support/models.ts';

const DOC = join(import.meta.dirname, 'fixtures', 'docs', 'report.pdf');
const packDir = mkdtempSync(join(tmpdir(), 'sq-cli-packs-'));
after(() => rmSync(packDir, { recursive: true, force: true }));

function squeeze(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/squeeze.js', ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

test('ingest builds the pack once; a second ingest loads it', () => {
  const first = squeeze('ingest', '--model', smollm2Path(), '--doc', DOC, '--pack-dir', packDir, '--json');
  assert.equal(first.code, 0, first.stderr);
  const built = first.json().pack;
  assert.equal(built.built, true);
  assert.ok(built.nFixed > 100 && built.bytes > 0);
  assert.ok(built.build.prefillMs > 0 && built.build.clusterMs > 0);
  const second = squeeze('ingest', '--model', smollm2Path(), '--doc', DOC, '--pack-dir', packDir, '--json');
  assert.equal(second.code, 0, second.stderr);
  const loaded = second.json().pack;
  assert.equal(loaded.built, false);
  assert.equal(loaded.path, built.path);
  assert.ok(loaded.loadMs < built.build.prefillMs);
});

test('ask --json gives the answer, stats at the asked sparsity and page citations, from the pack', () => {
  const r = squeeze('ask', '--model', smollm2Path(), '--doc', DOC, '--pack-dir', packDir, '--sparsity', '0.7', '--max-tokens', '12', '--json', 'What is the report about?');
  assert.equal(r.code, 0, r.stderr);
  const out = r.json();
  assert.equal(out.pack.built, false);
  assert.equal(typeof out.answer, 'string');
  assert.ok(out.tokens.length > 0 && out.tokens.length <= 12);
  assert.equal(out.stats.mode, 'sparsity');
  assert.equal(out.stats.target, 0.7);
  assert.equal(out.stats.keysPerLayer.length, 30);
  assert.ok(out.stats.bytesRead < out.stats.bytesDense);
  const { attentionMs, fixedAttentionMs, dynamicAttentionMs, mergeMs } = out.stats;
  assert.ok(fixedAttentionMs > 0 && dynamicAttentionMs > 0 && mergeMs > 0, JSON.stringify(out.stats));
  assert.ok(Math.abs(fixedAttentionMs + dynamicAttentionMs + mergeMs - attentionMs) < 1e-6 * attentionMs);
  assert.ok(out.timings.prefillTokens < 40, `${out.timings.prefillTokens} tokens evaluated`);
  assert.ok(out.citations.length > 0 && out.citations[0].source === 'report.pdf' && out.citations[0].page >= 1);
});

test('ask --no-citations answers without collecting attention mass, and says so', () => {
  const r = squeeze('ask', '--model', smollm2Path(), '--doc', DOC, '--pack-dir', packDir, '--sparsity', '0.7', '--max-tokens', '6', '--no-citations', '--json', 'What is the report about?');
  assert.equal(r.code, 0, r.stderr);
  const out = r.json();
  assert.ok(out.tokens.length > 0);
  assert.deepEqual(out.citations, []);
  assert.equal(out.noCitations, 'token-mass-off');
});

test('ask with two modes is bad usage (2); a missing document is a bad input (3)', () => {
  const both = squeeze('ask', '--model', smollm2Path(), '--doc', DOC, '--dense', '--sparsity', '0.5', 'q');
  assert.equal(both.code, 2);
  const missing = squeeze('ask', '--model', smollm2Path(), '--doc', join(packDir, 'nope.pdf'), '--json', 'q');
  assert.equal(missing.code, 3, missing.stderr);
  assert.equal(missing.json().error.code, 'FILE_NOT_FOUND');
});
