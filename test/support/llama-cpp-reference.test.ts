import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceDetokenize, referenceGreedy, referenceLogProbs, referenceTokenize } from './llama-cpp-reference.ts';
import { smollm2Path } from './models.ts';
import { makeRandomModel } from './random-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'llama-cpp-reference-'));
const smollm2 = smollm2Path();
const chatPrompt = '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n';

function argmax(lp: Float32Array): number {
  let best = 0;
  for (let t = 1; t < lp.length; t++) if (lp[t] > lp[best]) best = t;
  return best;
}

test('tokenize and detokenize SmolLM2 text, with and without special-token parsing', async () => {
  const text = 'The capital of France is Paris. Grüße!';
  const [plain, chat] = await referenceTokenize(smollm2, [text, '<|im_start|>user']);
  assert.deepEqual(plain.slice(0, 5), [504, 3575, 282, 4649, 314]); // "The capital of France is"
  assert.equal(chat[0], 1); // <|im_start|> is one special token
  const [literal] = await referenceTokenize(smollm2, ['<|im_start|>user'], { special: false });
  assert.ok(!literal.includes(1) && literal.length > 2, `special text parsed as a token: ${literal}`);
  // SmolLM2 asks for no BOS (tokenizer.ggml.add_bos_token = false), so addBos changes nothing.
  assert.deepEqual(await referenceTokenize(smollm2, [text], { addBos: true }), [plain]);
  assert.deepEqual(await referenceDetokenize(smollm2, [plain, chat]), [text, '<|im_start|>user']);
  assert.deepEqual(await referenceDetokenize(smollm2, [chat], { special: false }), ['user']);
});

test('greedy SmolLM2 answers the capital of France, and log-probs agree with it token by token', async () => {
  const [prompt] = await referenceTokenize(smollm2, [chatPrompt]);
  const answer = await referenceGreedy(smollm2, prompt, 12);
  assert.equal(answer.length, 12);
  const [text] = await referenceDetokenize(smollm2, [answer]);
  assert.match(text, /Paris/);

  // Teacher-forced over prompt + answer in one batch, each position's argmax is the next greedy token
  // (decode one token at a time and batched prefill agree), and result[i] predicts token i + 1.
  const lps = await referenceLogProbs(smollm2, [...prompt, ...answer]);
  assert.equal(lps.length, prompt.length + answer.length);
  for (let i = 0; i < answer.length; i++) {
    assert.equal(argmax(lps[prompt.length - 1 + i]), answer[i], `answer token ${i}`);
  }
  for (const lp of lps) {
    assert.equal(lp.length, 49152);
    const mass = lp.reduce((a, v) => a + Math.exp(v), 0);
    assert.ok(Math.abs(mass - 1) < 1e-3, `probabilities sum to ${mass}`);
  }

  // Asking for some positions gives exactly those rows, in the order asked.
  const last = lps.length - 1;
  const some = await referenceLogProbs(smollm2, [...prompt, ...answer], { positions: [last, 0] });
  assert.deepEqual(some, [lps[last], lps[0]]);
  await assert.rejects(referenceLogProbs(smollm2, [1, 2], { positions: [2] }), /positions must be indices/);
});

test('greedy with stopAtEog ends on the end-of-turn token', async () => {
  const [prompt] = await referenceTokenize(smollm2, [chatPrompt]);
  const out = await referenceGreedy(smollm2, prompt, 64, { stopAtEog: true });
  assert.ok(out.length < 64, `no end of turn in ${out.length} tokens`);
  assert.equal(out.at(-1), 2); // <|im_end|>
});

test('log-probs do not depend on the thread count; the F16 KV cache is a different reference', async () => {
  const path = join(dir, 'threads.gguf');
  await makeRandomModel(path, { arch: 'llama', nLayers: 2, nEmbd: 256, nFf: 512, nHeads: 4, nKvHeads: 2, nCtxTrain: 512, weightType: 'F32', seed: 5 });
  const tokens = [1, 504, 3575, 282, 4649, 314, 7042, 30];
  const one = await referenceLogProbs(path, tokens, { threads: 1 });
  const two = await referenceLogProbs(path, tokens, { threads: 2 });
  assert.deepEqual(two, one);
  const f16 = await referenceLogProbs(path, tokens, { f32Kv: false });
  let maxDiff = 0;
  for (let i = 0; i < tokens.length; i++) for (let t = 0; t < one[i].length; t++) maxDiff = Math.max(maxDiff, Math.abs(f16[i][t] - one[i][t]));
  // F16 rounding of K and V only: visible, but small for f32 weights.
  assert.ok(maxDiff > 0 && maxDiff < 0.05, `F16 vs F32 KV max log-prob difference ${maxDiff}`);
});

test('a model that aborts llama.cpp rejects the call, and the next call gets a fresh worker', async () => {
  const good = join(dir, 'good.gguf');
  await makeRandomModel(good, { arch: 'llama', nLayers: 1, nEmbd: 256, nFf: 512, nHeads: 4, nKvHeads: 2, nCtxTrain: 512, weightType: 'Q8_0', seed: 2 });
  // head_count_kv = 0 trips a GGML_ASSERT in llama.cpp's loader: the process aborts.
  const file = readFileSync(good);
  const key = Buffer.from('llama.attention.head_count_kv');
  file.writeUInt32LE(0, file.indexOf(key) + key.length + 4); // skip the u32 value type
  const bad = join(dir, 'bad.gguf');
  writeFileSync(bad, file);
  await assert.rejects(referenceLogProbs(bad, [1, 2]), /worker exited \(SIGABRT\) during logProbs on .*bad\.gguf[\s\S]*GGML_ASSERT/);
  const lps = await referenceLogProbs(good, [1, 2]);
  assert.ok(lps[1].every(Number.isFinite));
});

test('a file llama.cpp refuses gives its reason', async () => {
  const path = join(dir, 'not-gguf.gguf');
  writeFileSync(path, 'not a model');
  await assert.rejects(referenceTokenize(path, ['x']), /llama\.cpp tokenize on .*not-gguf\.gguf: .*GGUF magic/);
});
