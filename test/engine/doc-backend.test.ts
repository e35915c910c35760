// The backend choice of a document session (issue 4): 'auto' falls back to the CPU where no GPU
// takes the model (this machine has no driver) and answers from its pack there; 'cuda' then fails
// with a coded error instead of a session that silently runs elsewhere. The GPU path itself is
// compared with the CPU on the GPU machine (native/tools/cuda-doc-test.cpp).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { isEngineError, Model } from '../../main/engine/engine.ts';
import { loadAddon } from '../../main/engine/native.ts';
import { makeRandomModel } from '../support/random-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'squeeze-doc-backend-'));
const hasGpu = loadAddon().systemInfo().cuda.devices > 0;
let model: Model;

before(async () => {
  const path = join(dir, 'tiny.gguf');
  await makeRandomModel(path, { arch: 'llama', nLayers: 2, nEmbd: 128, nFf: 256, nHeads: 2, nKvHeads: 1, nCtxTrain: 1024, seed: 9, weightType: 'Q8_0' });
  model = await Model.load(path);
});

after(() => rmSync(dir, { recursive: true, force: true }));

const fixed = Array.from({ length: 300 }, (_, i) => 300 + ((i * 7919) % 5000));

test('auto without a GPU: the document session runs on the CPU and answers from its pack', { skip: hasGpu && 'a GPU is present' }, async () => {
  const auto = model.createDocSession({ contextSize: 512, threads: 2, backend: 'auto' });
  const cpu = model.createDocSession({ contextSize: 512, threads: 2, backend: 'cpu' });
  assert.equal(auto.device(), 'cpu');
  assert.equal(cpu.device(), 'cpu');
  await auto.ingest(fixed, { path: join(dir, 'auto.sqpack'), docHash: 'h', sourceMap: '{}' });
  await cpu.ingest(fixed, { path: join(dir, 'cpu.sqpack'), docHash: 'h', sourceMap: '{}' });
  const question = [400, 401, 402, 403];
  const options = { mode: 'sparsity' as const, sparsity: 0.7, maxTokens: 6, temperature: 0, stopTokens: [] };
  const a = await auto.answer(question, options);
  const b = await cpu.answer(question, options);
  assert.equal(a.tokens.length, 6);
  assert.deepEqual(a.tokens, b.tokens);
});

test('cuda without a usable GPU is a coded error', { skip: hasGpu && 'a GPU is present' }, () => {
  assert.throws(
    () => model.createDocSession({ contextSize: 512, backend: 'cuda' }),
    (e: unknown) => isEngineError(e) && e.code.startsWith('CUDA_'),
  );
});
