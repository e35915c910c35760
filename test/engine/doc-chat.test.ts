// Squeezed Attention end to end on the real SmolLM2-135M-Instruct and a real document (the Apache
// License 2.0, ~2.3K tokens): the pack is built once and then loaded, answers with every key read
// equal plain dense generation over the same prompt, achieved sparsity tracks the calibrated
// targets, and a stale, foreign or damaged pack is rebuilt, never used.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { buildFixedContext, openDocuments, type FixedContext } from '../../main/docs/index.ts';
import { DocChat } from '../../main/engine/doc-chat.ts';
import { Model } from '../../main/engine/engine.ts';
import { smollm2Path } from '../support/models.ts';

const DOC = join(import.meta.dirname, '..', 'fixtures', 'docs', 'apache-license-2.0.txt');
const QUESTION = 'Which section of the license grants a patent license, and when does that patent license terminate?';

let model: Model;
let context: FixedContext;
let packDir: string;
let chat: DocChat;

async function contextOf(path: string): Promise<FixedContext> {
  return buildFixedContext((await openDocuments(path)).documents);
}

before(async () => {
  model = await Model.load(smollm2Path());
  context = await contextOf(DOC);
  packDir = mkdtempSync(join(tmpdir(), 'sq-packs-'));
  chat = await DocChat.open(model, context, { packDir });
});

after(() => rmSync(packDir, { recursive: true, force: true }));

test('the first open builds the pack; dense answers equal plain generation, all-cluster ones agree to rounding', async () => {
  assert.equal(chat.pack.built, true);
  assert.ok(chat.fixedTokens.length > 2000, `fixed context of ${chat.fixedTokens.length} tokens`);
  const dynamic = chat.dynamicTokens(QUESTION);
  const reference = model.createSession({ contextSize: chat.fixedTokens.length + 256 });
  const want = await reference.generate([...chat.fixedTokens, ...dynamic], { maxTokens: 24, temperature: 0 });
  assert.equal(want.tokens.length > 4, true);
  const dense = await chat.ask(QUESTION, { mode: { kind: 'dense' }, maxTokens: 24, remember: false });
  assert.deepEqual(dense.tokens, want.tokens);
  assert.equal(dense.timings.prefillTokens, dynamic.length);
  // Every cluster through the squeezed path: the same f16 rounding as the dense kernel, but keys in
  // cluster order, so sums round differently; this model turns one-ulp differences in attention
  // outputs into logit differences that can flip a near-tie after a few tokens.
  const all = await chat.ask(QUESTION, { mode: { kind: 'all' }, maxTokens: 24, remember: false });
  assert.deepEqual(all.tokens.slice(0, 8), want.tokens.slice(0, 8));
  assert.equal(all.stats.sparsity, 0);
  assert.equal(all.timings.prefillTokens, dynamic.length);
});

test('achieved sparsity is within 5 points of the 70% and 90% targets', async () => {
  for (const target of [0.7, 0.9]) {
    const r = await chat.ask(QUESTION, { mode: { kind: 'sparsity', sparsity: target }, maxTokens: 16, remember: false });
    assert.equal(r.stats.target, target);
    assert.ok(Math.abs(r.stats.sparsity - target) <= 0.05, `target ${target}: achieved ${r.stats.sparsity}`);
    // + 0.15: centroids, and the question's prefill rerank, which reads the K rows of a shortlist
    // about twice the selection once per answer.
    assert.ok(r.stats.bytesRead < r.stats.bytesDense * (1 - target + 0.15), `target ${target}: read ${r.stats.bytesRead} of ${r.stats.bytesDense} bytes, ${r.tokens.length} tokens`);
    assert.equal(r.stats.keysPerLayer.length, model.info.nLayers);
    assert.ok(r.stats.lookupMs > 0 && r.stats.attentionMs > 0);
    const { fixedAttentionMs, dynamicAttentionMs, mergeMs } = r.stats;
    assert.ok(fixedAttentionMs > 0 && dynamicAttentionMs > 0 && mergeMs > 0, JSON.stringify({ fixedAttentionMs, dynamicAttentionMs, mergeMs }));
    assert.ok(Math.abs(fixedAttentionMs + dynamicAttentionMs + mergeMs - r.stats.attentionMs) < 1e-6 * r.stats.attentionMs);
    assert.ok(r.citations.length > 0 && r.citations[0].source === 'apache-license-2.0.txt');
    assert.ok(Math.abs(r.citations.reduce((s, c) => s + c.share, 0) - 1) < 1e-6);
  }
});

test('tokenMass false answers the same without citations and says why; ignoreEog decodes exactly maxTokens', async () => {
  const mode = { kind: 'sparsity', sparsity: 0.7 } as const;
  const cited = await chat.ask(QUESTION, { mode, maxTokens: 10, remember: false });
  const plain = await chat.ask(QUESTION, { mode, maxTokens: 10, remember: false, tokenMass: false });
  assert.deepEqual(plain.tokens, cited.tokens);
  assert.ok(cited.citations.length > 0);
  assert.equal(cited.noCitations, undefined);
  assert.deepEqual(plain.citations, []);
  assert.equal(plain.noCitations, 'token-mass-off');
  const dense = await chat.ask(QUESTION, { mode: { kind: 'dense' }, maxTokens: 4, remember: false });
  assert.equal(dense.noCitations, 'dense');

  // A one-token reply ("Yes") ends at end-of-generation unless it is ignored.
  const short = 'Answer with one word: is this a license?';
  const stopped = await chat.ask(short, { mode, maxTokens: 40, remember: false, tokenMass: false });
  assert.equal(stopped.stopReason, 'eog');
  const through = await chat.ask(short, { mode, maxTokens: 40, remember: false, tokenMass: false, ignoreEog: true });
  assert.equal(through.stopReason, 'max_tokens');
  assert.equal(through.tokens.length, 40);
  assert.deepEqual(through.tokens.slice(0, stopped.tokens.length - 1), stopped.tokens.slice(0, -1));
});

test('the pack reports the ladder it was calibrated for; a pack of another ladder shows and uses its own', async () => {
  assert.deepEqual(chat.pack.sparsities, [0.5, 0.7, 0.8, 0.9, 0.95]);
  assert.equal(chat.pack.perLayerThresholds, true);
  const dir = mkdtempSync(join(tmpdir(), 'sq-ladder-'));
  try {
    const small = join(dir, 'notes.txt');
    writeFileSync(small, readFileSync(DOC, 'utf8').slice(0, 3000));
    const ladder = [0.6, 0.85];
    const built = await DocChat.open(model, await contextOf(small), { packDir: dir, sparsities: ladder });
    assert.equal(built.pack.built, true);
    assert.deepEqual(built.pack.sparsities, ladder);
    const loaded = await DocChat.open(model, await contextOf(small), { packDir: dir, sparsities: ladder });
    assert.equal(loaded.pack.built, false);
    assert.deepEqual(loaded.pack.sparsities, built.pack.sparsities);
    const r = await loaded.ask(QUESTION, { mode: { kind: 'sparsity', sparsity: 0.9 }, maxTokens: 4, remember: false, tokenMass: false });
    assert.equal(r.stats.target, 0.85);
    // The engine's own ladder is other settings: that pack is stale for it and rebuilt.
    const engineLadder = await DocChat.open(model, await contextOf(small), { packDir: dir });
    assert.equal(engineLadder.pack.built, true);
    assert.match(engineLadder.pack.rebuildReason ?? '', /^PACK_STALE/);
    await assert.rejects(DocChat.open(model, await contextOf(small), { packDir: dir, sparsities: [0.9, 0.5] }), { code: 'BAD_ARGUMENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function argmaxRows(logits: Float32Array, nVocab: number): number[] {
  const out: number[] = [];
  for (let off = 0; off < logits.length; off += nVocab) {
    let best = 0;
    for (let i = 1; i < nVocab; i++) if (logits[off + i] > logits[off + best]) best = i;
    out.push(best);
  }
  return out;
}

test('evalLogits: teacher-forced rows reproduce greedy answers, dense is deterministic, recall is 1 with every cluster and below at 90%', async () => {
  const dense = await chat.ask(QUESTION, { mode: { kind: 'dense' }, maxTokens: 12, remember: false });
  const reference = await chat.evalLogits(QUESTION, dense.tokens, { kind: 'dense' });
  assert.equal(reference.nVocab, model.info.nVocab);
  assert.deepEqual(argmaxRows(reference.logits, reference.nVocab), dense.tokens);
  assert.deepEqual((await chat.evalLogits(QUESTION, dense.tokens, { kind: 'dense' })).logits, reference.logits);
  assert.deepEqual(reference.recallPerLayer, []);

  const all = await chat.evalLogits(QUESTION, dense.tokens, { kind: 'all' }, { recall: true });
  assert.equal(all.sparsity, 0);
  assert.equal(all.recallPerLayer.length, model.info.nLayers);
  for (const r of all.recallPerLayer) assert.ok(Math.abs(r - 1) < 1e-5, `recall ${r}`);

  const mode = { kind: 'sparsity', sparsity: 0.9 } as const;
  const squeezed = await chat.ask(QUESTION, { mode, maxTokens: 12, remember: false });
  const scored = await chat.evalLogits(QUESTION, squeezed.tokens, mode, { recall: true });
  assert.deepEqual(argmaxRows(scored.logits, scored.nVocab), squeezed.tokens);
  assert.ok(Math.abs(scored.sparsity - 0.9) <= 0.05, `sparsity ${scored.sparsity}`);
  for (const r of scored.recallPerLayer) assert.ok(r > 0 && r <= 1 + 1e-6, `recall ${r}`);
  assert.ok(scored.recallPerLayer.some((r) => r < 0.99));
  await assert.rejects(chat.evalLogits(QUESTION, [], { kind: 'dense' }), { code: 'EVAL_EMPTY' });
});

test('a second open loads the pack, and an answer evaluates only the question', async () => {
  const again = await DocChat.open(model, context, { packDir });
  assert.equal(again.pack.built, false);
  assert.equal(again.pack.path, chat.pack.path);
  const build = chat.pack.build!;
  assert.ok(again.pack.loadMs! < build.prefillMs + build.clusterMs, `load ${again.pack.loadMs} ms`);
  const question = again.dynamicTokens(QUESTION).length;
  const r = await again.ask(QUESTION, { maxTokens: 8 });
  assert.equal(r.timings.prefillTokens, question);
  assert.equal(r.timings.reusedTokens, again.fixedTokens.length);
  // The next turn reuses the first one too: only the new question is evaluated.
  const follow = 'Summarise that in one sentence.';
  const before = again.dynamicTokens(follow).length;
  const r2 = await again.ask(follow, { maxTokens: 8 });
  assert.ok(r2.timings.prefillTokens < before, `${r2.timings.prefillTokens} of ${before} dynamic tokens evaluated`);
});

test('a changed document gets a new pack; a foreign or truncated pack at its path is rebuilt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sq-doc-'));
  try {
    const small = join(dir, 'notes.txt');
    const text = readFileSync(DOC, 'utf8').slice(0, 2500);
    writeFileSync(small, text);
    const first = await DocChat.open(model, await contextOf(small), { packDir });
    assert.equal(first.pack.built, true);

    writeFileSync(small, text.replace('Apache', 'Apacha'));
    const changed = await DocChat.open(model, await contextOf(small), { packDir });
    assert.equal(changed.pack.built, true);
    assert.notEqual(changed.pack.path, first.pack.path);

    copyFileSync(chat.pack.path, changed.pack.path); // another document's pack under this one's name
    const foreign = await DocChat.open(model, await contextOf(small), { packDir });
    assert.equal(foreign.pack.built, true);
    assert.match(foreign.pack.rebuildReason ?? '', /^PACK_STALE/);

    const bytes = readFileSync(changed.pack.path);
    writeFileSync(changed.pack.path, bytes.subarray(0, bytes.length - 100));
    const truncated = await DocChat.open(model, await contextOf(small), { packDir });
    assert.equal(truncated.pack.built, true);
    assert.match(truncated.pack.rebuildReason ?? '', /^PACK_TRUNCATED/);
    const reloaded = await DocChat.open(model, await contextOf(small), { packDir });
    assert.equal(reloaded.pack.built, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
