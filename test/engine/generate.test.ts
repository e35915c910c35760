// Greedy generation on the real SmolLM2-135M-Instruct equals llama.cpp's token for token.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { Model } from '../../main/engine/engine.ts';
import { referenceGreedy } from '../support/llama-cpp-reference.ts';
import { smollm2Path } from '../support/models.ts';

const PROMPTS = [
  'What is the capital of France? Explain its history briefly.',
  'Write a short poem about the sea.',
  'List three uses of a paperclip.',
  'Translate "good morning, how are you?" into Spanish and German.',
  'Explain in simple words how a refrigerator keeps food cold.',
  'def fibonacci(n):',
];
const N_TOKENS = 64;

let model: Model;
before(async () => {
  model = await Model.load(smollm2Path());
});

test('greedy continuations of chat prompts equal llama.cpp for 64 tokens', async () => {
  const prompts = PROMPTS.map((p, i) =>
    i === PROMPTS.length - 1 ? model.tokenizer.encode(p, { addSpecial: true, parseSpecial: true }) : model.tokenizer.encode(model.formatChat([{ role: 'user', content: p }]), { addSpecial: true, parseSpecial: true }),
  );
  // The reference runs llama.cpp with an F32 KV cache (exact comparisons); so do we here.
  const session = model.createSession({ contextSize: 512, kvType: 'f32' });
  for (const [i, prompt] of prompts.entries()) {
    const ours = await session.generate(prompt, { maxTokens: N_TOKENS, temperature: 0, ignoreEog: true });
    const reference = await referenceGreedy(smollm2Path(), prompt, N_TOKENS);
    assert.equal(ours.tokens.length, N_TOKENS);
    assert.deepEqual(ours.tokens, reference, `prompt ${i}: ${JSON.stringify(PROMPTS[i])}\nours: ${model.tokenizer.decode(ours.tokens)}\nllama.cpp: ${model.tokenizer.decode(reference)}`);
  }
});

test('a second turn reuses the cached prefix instead of re-evaluating it', async () => {
  const session = model.createSession({ contextSize: 1024 });
  const first = [{ role: 'user' as const, content: 'Name a colour.' }];
  const a = await session.generate(model.formatChat(first), { maxTokens: 16 });
  assert.equal(a.timings.nPromptReused, 0);
  const second = [...first, { role: 'assistant' as const, content: a.text }, { role: 'user' as const, content: 'And another one?' }];
  const b = await session.generate(model.formatChat(second), { maxTokens: 16 });
  const firstPromptLength = a.timings.nPrompt;
  assert.ok(b.timings.nPromptReused >= firstPromptLength, `reused ${b.timings.nPromptReused} of ${b.timings.nPrompt}; the first turn had ${firstPromptLength}`);
});

test('stop strings end generation and are not returned; streamed text equals the result', async () => {
  const session = model.createSession({ contextSize: 512 });
  const prompt = model.formatChat([{ role: 'user', content: 'Describe a sunny day at the beach.' }]);
  const full = await session.generate(prompt, { maxTokens: 48, ignoreEog: true });
  assert.ok(full.text.length > 40, `expected a longer answer, got ${JSON.stringify(full.text)}`);
  const stop = full.text.slice(20, 26);
  let streamed = '';
  const stopped = await session.generate(prompt, { maxTokens: 48, ignoreEog: true, stop: [stop], onText: (t) => (streamed += t) });
  assert.equal(stopped.stopReason, 'stop_string');
  assert.equal(stopped.text, full.text.slice(0, full.text.indexOf(stop)));
  assert.equal(streamed, stopped.text);
});

test('cancelling through an AbortSignal stops generation early', async () => {
  const session = model.createSession({ contextSize: 512 });
  const controller = new AbortController();
  let n = 0;
  const result = await session.generate(model.formatChat([{ role: 'user', content: 'Tell me a long story.' }]), {
    maxTokens: 200,
    ignoreEog: true,
    signal: controller.signal,
    onText: () => {
      if (++n === 5) controller.abort();
    },
  });
  assert.equal(result.stopReason, 'cancelled');
  assert.ok(result.tokens.length < 200);
});

test('sampling with a seed is reproducible and differs across seeds', async () => {
  const session = model.createSession({ contextSize: 512 });
  const prompt = model.formatChat([{ role: 'user', content: 'Invent a name for a cat.' }]);
  const opts = { maxTokens: 24, temperature: 1.2, topK: 0, topP: 1, minP: 0, ignoreEog: true };
  const a = await session.generate(prompt, { ...opts, seed: 1 });
  const b = await session.generate(prompt, { ...opts, seed: 1 });
  const c = await session.generate(prompt, { ...opts, seed: 2 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});

