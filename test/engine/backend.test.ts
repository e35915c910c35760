// The backend choice of a session: 'cpu' always runs; 'auto' falls back to the CPU where no GPU takes
// the model (this machine has no driver); 'cuda' then fails with a coded error; bad values are refused.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { isEngineError, Model } from '../../main/engine/engine.ts';
import { loadAddon, type Backend } from '../../main/engine/native.ts';
import { makeRandomModel } from '../support/random-model.ts';

const path = join(mkdtempSync(join(tmpdir(), 'squeeze-backend-')), 'tiny.gguf');
const hasGpu = loadAddon().systemInfo().cuda.devices > 0;
let model: Model;

before(async () => {
  await makeRandomModel(path, { arch: 'llama', nLayers: 1, nEmbd: 64, nFf: 128, nHeads: 2, nKvHeads: 1, nCtxTrain: 256, seed: 5, weightType: 'Q8_0' });
  model = await Model.load(path);
});

test('cpu and auto (without a GPU) generate the same tokens on the CPU', { skip: hasGpu && 'a GPU is present' }, async () => {
  const cpu = model.createSession({ contextSize: 64, backend: 'cpu' });
  const auto = model.createSession({ contextSize: 64, backend: 'auto' });
  assert.equal(cpu.device, 'cpu');
  assert.equal(auto.device, 'cpu');
  const prompt = [1, 2, 3, 4];
  const a = await cpu.generate(prompt, { maxTokens: 8, temperature: 0, ignoreEog: true });
  const b = await auto.generate(prompt, { maxTokens: 8, temperature: 0, ignoreEog: true });
  assert.equal(a.tokens.length, 8);
  assert.deepEqual(b.tokens, a.tokens);
});

test('cuda without a usable GPU is a coded error', { skip: hasGpu && 'a GPU is present' }, () => {
  assert.throws(
    () => model.createSession({ contextSize: 64, backend: 'cuda' }),
    (e: unknown) => isEngineError(e) && e.code.startsWith('CUDA_'),
  );
});

test('an unknown backend is refused', () => {
  assert.throws(
    () => model.createSession({ contextSize: 64, backend: 'tpu' as Backend }),
    (e: unknown) => isEngineError(e) && e.code === 'BAD_ARGUMENT' && /backend/.test(e.message),
  );
});
