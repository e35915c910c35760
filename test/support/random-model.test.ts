import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { GGML_TYPE, readTokenizerMetadata } from './gguf-writer.ts';
import { referenceLogProbs } from './llama-cpp-reference.ts';
import { smollm2Path } from './models.ts';
import { LOGIT_STD, llama31RopeFactors, makeRandomModel, type RandomModelSpec, WEIGHT_TYPES } from './random-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'random-model-'));
const vocab = await readTokenizerMetadata(smollm2Path());
const tiny = { nLayers: 2, nEmbd: 256, nFf: 512, nHeads: 4, nKvHeads: 2, nCtxTrain: 2048, vocab } as const;
// An arbitrary token sequence long enough to see attention over several positions.
const tokens = [1, 504, 3575, 282, 4649, 314, 2000, 3000, 17, 42];

interface Stats { entropy: number; top1: number; logitStd: number }

function stats(lp: Float32Array): Stats {
  let entropy = 0, top1 = 0, max = -Infinity, sum = 0, sumSq = 0;
  for (let t = 0; t < lp.length; t++) {
    const v = lp[t];
    assert.ok(Number.isFinite(v), `log-prob of token ${t} is ${v}`);
    entropy -= Math.exp(v) * v;
    if (v > max) { max = v; top1 = t; }
    sum += v; sumSq += v * v;
  }
  const mean = sum / lp.length;
  return { entropy, top1, logitStd: Math.sqrt(sumSq / lp.length - mean * mean) };
}

// Every arch x weight type loads in llama.cpp and gives a normalized, peaked, context-dependent
// distribution. The logits' std over the vocabulary is LOGIT_STD * (rms of the dequantized output
// matrix / its intended rms), so hitting LOGIT_STD within 10% checks that each type's random blocks
// decode (in llama.cpp) to the magnitude the generator meant.
for (const arch of ['llama', 'qwen2'] as const) {
  for (const weightType of WEIGHT_TYPES) {
    test(`${arch} ${weightType}: llama.cpp loads it and gives finite, non-degenerate log-probs`, async () => {
      const path = join(dir, `${arch}-${weightType}.gguf`);
      // Alternate tied/untied outputs and rope_freqs so each variant meets several weight types.
      const variant = WEIGHT_TYPES.indexOf(weightType) % 2 === 0;
      await makeRandomModel(path, { ...tiny, arch, weightType, seed: 3, tiedOutput: variant, ropeFreqs: arch === 'llama' && !variant });
      const lps = await referenceLogProbs(path, tokens);
      assert.equal(lps.length, tokens.length);
      const s = lps.map(stats);
      for (const [i, lp] of lps.entries()) {
        const mass = lp.reduce((a, v) => a + Math.exp(v), 0);
        assert.ok(Math.abs(mass - 1) < 1e-3, `position ${i}: probabilities sum to ${mass}`);
        assert.equal(lp.length, 49152);
      }
      const mean = (f: (x: Stats) => number): number => s.reduce((a, x) => a + f(x), 0) / s.length;
      // ln(49152) = 10.8 would be uniform; ~0 would be one-hot.
      assert.ok(mean((x) => x.entropy) > 0.3 && mean((x) => x.entropy) < 6, `mean entropy ${mean((x) => x.entropy)}`);
      assert.ok(Math.abs(mean((x) => x.logitStd) / LOGIT_STD - 1) < 0.1, `mean logit std ${mean((x) => x.logitStd)}`);
      // The prediction depends on the context, not on a fixed bias: top-1 tokens vary across positions.
      assert.ok(new Set(s.map((x) => x.top1)).size >= tokens.length / 2, `top-1 tokens ${s.map((x) => x.top1)}`);
    });
  }
}

test('tensor names, shapes, types and metadata are those llama.cpp expects', async () => {
  const path = join(dir, 'layout.gguf');
  const spec: RandomModelSpec = { ...tiny, arch: 'qwen2', weightType: 'Q4_K', embdType: 'Q8_0', seed: 1 };
  await makeRandomModel(path, spec);
  const info = await readGgufFileInfo(path, { logWarnings: false });
  const q = info.metadata.qwen2 as unknown as Record<string, unknown> & { attention: Record<string, unknown>; rope: Record<string, unknown> };
  assert.equal(q.block_count, 2);
  assert.equal(q.embedding_length, 256);
  assert.equal(q.feed_forward_length, 512);
  assert.equal(q.context_length, 2048);
  assert.equal(q.attention.head_count, 4);
  assert.equal(q.attention.head_count_kv, 2);
  assert.equal(q.attention.key_length, 64);
  assert.equal(q.rope.dimension_count, 64);
  assert.equal(q.rope.freq_base, 1e6);
  assert.equal(info.metadata.general.architecture, 'qwen2');
  assert.equal(info.metadata.general.file_type, 15); // MOSTLY_Q4_K_M

  const byName = new Map(info.tensorInfo!.map((t) => [t.name, t]));
  const expect = (name: string, type: number, shape: number[]): void => {
    const t = byName.get(name);
    assert.ok(t, `${name} missing`);
    assert.equal(t.ggmlType, type, name);
    assert.deepEqual(t.dimensions.map(Number), shape, name);
  };
  expect('token_embd.weight', GGML_TYPE.Q8_0, [256, 49152]);
  expect('output.weight', GGML_TYPE.Q8_0, [256, 49152]);
  expect('output_norm.weight', GGML_TYPE.F32, [256]);
  for (const b of [0, 1]) {
    expect(`blk.${b}.attn_norm.weight`, GGML_TYPE.F32, [256]);
    expect(`blk.${b}.attn_q.weight`, GGML_TYPE.Q4_K, [256, 256]);
    expect(`blk.${b}.attn_k.weight`, GGML_TYPE.Q4_K, [256, 128]);
    expect(`blk.${b}.attn_v.weight`, GGML_TYPE.Q4_K, [256, 128]);
    expect(`blk.${b}.attn_q.bias`, GGML_TYPE.F32, [256]);
    expect(`blk.${b}.attn_k.bias`, GGML_TYPE.F32, [128]);
    expect(`blk.${b}.attn_v.bias`, GGML_TYPE.F32, [128]);
    expect(`blk.${b}.attn_output.weight`, GGML_TYPE.Q4_K, [256, 256]);
    expect(`blk.${b}.ffn_norm.weight`, GGML_TYPE.F32, [256]);
    expect(`blk.${b}.ffn_gate.weight`, GGML_TYPE.Q4_K, [256, 512]);
    expect(`blk.${b}.ffn_up.weight`, GGML_TYPE.Q4_K, [256, 512]);
    expect(`blk.${b}.ffn_down.weight`, GGML_TYPE.Q4_K, [512, 256]);
  }
  assert.equal(byName.size, 3 + 2 * 12);
});

test('llama takes a head dim other than nEmbd / nHeads from key_length', async () => {
  const path = join(dir, 'head-dim.gguf');
  await makeRandomModel(path, { ...tiny, arch: 'llama', weightType: 'Q4_K', seed: 1, headDim: 128, ropeFreqs: true });
  const info = await readGgufFileInfo(path, { logWarnings: false });
  const q = info.tensorInfo!.find((t) => t.name === 'blk.0.attn_q.weight')!;
  assert.deepEqual(q.dimensions.map(Number), [256, 512]);
  const lps = await referenceLogProbs(path, tokens.slice(0, 4));
  assert.ok(lps.every((lp) => lp.every(Number.isFinite)));
});

async function tensorBytes(path: string, name: string): Promise<Buffer> {
  const info = await readGgufFileInfo(path, { logWarnings: false });
  const t = info.tensorInfo!.find((x) => x.name === name)!;
  const n = t.dimensions.reduce((a: number, d) => a * Number(d), 1);
  const at = info.infoEndOffset! + Number(t.offset);
  return readFileSync(path).subarray(at, at + n * 4); // F32 tensors only
}

test('same seed gives the same file; another seed changes it; another type keeps the F32 tensors', async () => {
  const spec: RandomModelSpec = { ...tiny, nLayers: 1, arch: 'llama', weightType: 'Q5_1', seed: 11 };
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => join(dir, `seed-${n}.gguf`));
  await makeRandomModel(a, spec);
  await makeRandomModel(b, spec);
  await makeRandomModel(c, { ...spec, seed: 12 });
  await makeRandomModel(d, { ...spec, weightType: 'Q6_K', embdType: 'Q5_1' });
  assert.deepEqual(readFileSync(a), readFileSync(b));
  assert.notDeepEqual(readFileSync(a), readFileSync(c));
  // Each tensor has its own random stream, so a model differing only in weight type shares the rest.
  for (const name of ['blk.0.attn_norm.weight', 'blk.0.ffn_norm.weight', 'output_norm.weight']) {
    assert.deepEqual(await tensorBytes(d, name), await tensorBytes(a, name), name);
    assert.notDeepEqual(await tensorBytes(c, name), await tensorBytes(a, name), name);
  }
});

test('shapes that a type or arch cannot hold are refused', async () => {
  const path = join(dir, 'refused.gguf');
  const base: RandomModelSpec = { ...tiny, arch: 'llama', weightType: 'Q4_K', seed: 1 };
  await assert.rejects(makeRandomModel(path, { ...base, nEmbd: 576, nHeads: 9, nKvHeads: 3 }), /row length 576.*Q4_K.*256/);
  await assert.rejects(makeRandomModel(path, { ...base, nKvHeads: 3 }), /nHeads 4 is not a multiple of nKvHeads 3/);
  await assert.rejects(makeRandomModel(path, { ...base, arch: 'qwen2', ropeFreqs: true }), /rope_freqs/);
  await assert.rejects(makeRandomModel(path, { ...base, arch: 'qwen2', headDim: 128 }), /qwen2 needs headDim/);
});

test('rope_freqs holds Llama-3.1 factors: 1 for short wavelengths, 8 for long ones, smooth between', () => {
  const f = llama31RopeFactors(128, 500000);
  assert.equal(f.length, 64);
  assert.equal(f[0], 1);
  assert.equal(f[63], 8);
  for (let i = 1; i < f.length; i++) assert.ok(f[i] >= f[i - 1], `factor ${i} decreases`);
  assert.ok(f.some((x) => x > 1 && x < 8), 'no interpolated factor');
});
