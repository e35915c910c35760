// The model manager's contract channels through the router and the app core: payloads are
// validated, errors arrive as data with their codes, first run reports MODEL_NOT_DOWNLOADED.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createAppCore, type Emit } from '../../main/app/app-core.ts';
import type { EventPayload, ModelStatus, Result } from '../../main/ipc/contract.ts';
import { createRouter } from '../../main/ipc/router.ts';
import { makeRandomModel } from '../support/random-model.ts';
import { startFileServer } from './file-server.ts';

const server = await startFileServer();
after(() => server.close());
const dataDir = mkdtempSync(path.join(tmpdir(), 'squeeze-model-channels-'));
const progress: EventPayload<'model:download-progress'>[] = [];
const statuses: ModelStatus[] = [];
const emit: Emit = (event, payload) => {
  if (event === 'model:download-progress') progress.push(payload as EventPayload<'model:download-progress'>);
  if (event === 'model:status') statuses.push(payload as ModelStatus);
};
const core = createAppCore({ dataDir, emit, threads: 1, contextSize: 256 });
const route = createRouter({ handlers: core.handlers, isKnownSender: () => true });

const tinyPath = path.join(dataDir, 'tiny-src.gguf');
await makeRandomModel(tinyPath, { arch: 'llama', nLayers: 1, nEmbd: 64, nFf: 128, nHeads: 2, nKvHeads: 1, nCtxTrain: 256, weightType: 'Q8_0', seed: 3 });
server.files.set('tiny.gguf', { body: readFileSync(tinyPath) });
// No model anywhere: the default is looked for in the data dir and in an empty fetch cache.
process.env.SQUEEZE_MODEL_DIR = path.join(dataDir, 'empty-cache');

async function call(channel: string, payload: unknown): Promise<Result<any>> {
  return route(channel, payload, null);
}

test('first run: loading the default model reports MODEL_NOT_DOWNLOADED, and the list offers it', async () => {
  const status = (await call('model:load', {})) as Result<ModelStatus>;
  assert.equal(status.ok && status.data.error?.code, 'MODEL_NOT_DOWNLOADED');
  const list = await call('model:list', {});
  assert.ok(list.ok);
  assert.equal(list.data.modelsDir, path.join(dataDir, 'models'));
  assert.deepEqual(list.data.models, [{ id: 'smollm2-135m-instruct', name: 'SmolLM2-135M-Instruct (Q4_1)', file: 'SmolLM2-135M-Instruct.Q4_1.gguf', path: null, bytes: 98_362_432 }]);
});

test('bad download payloads are refused before anything starts', async () => {
  const bad = [
    { downloadId: 'd1', source: { kind: 'url', url: 'https://x/y.gguf', sha256: 'abc' } },
    { downloadId: 'd1', source: { kind: 'ftp', url: 'x' } },
    { downloadId: '../d', source: { kind: 'known', modelId: 'smollm2-135m-instruct' } },
    { downloadId: 'd1', source: { kind: 'known', modelId: 'x', extra: 1 } },
  ];
  for (const payload of bad) {
    const r = await call('model:download', payload);
    assert.equal(r.ok ? 'ok' : r.code, 'IPC_BAD_REQUEST', JSON.stringify(payload));
  }
  const url = await call('model:download', { downloadId: 'd1', source: { kind: 'url', url: 'javascript:alert(1)' } });
  assert.equal(url.ok ? 'ok' : url.code, 'DOWNLOAD_BAD_URL');
  const unknown = await call('model:download', { downloadId: 'd1', source: { kind: 'known', modelId: 'nope' } });
  assert.equal(unknown.ok ? 'ok' : unknown.code, 'MODEL_UNKNOWN');
});

test('a model downloaded through the channel streams progress, is listed and loads', async () => {
  const r = await call('model:download', { downloadId: 'dl-1', source: { kind: 'url', url: server.url('tiny.gguf') } });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.data.path, path.join(dataDir, 'models', 'tiny.gguf'));
  assert.ok(progress.length > 0 && progress.every((p) => p.downloadId === 'dl-1'));
  const list = await call('model:list', {});
  assert.ok(list.ok && list.data.models.some((m: { path: string | null }) => m.path === r.data.path));
  const status = (await call('model:load', { path: r.data.path })) as Result<ModelStatus>;
  assert.ok(status.ok);
  assert.equal(status.data.state, 'ready');
  assert.match(status.data.description ?? '', /^llama, 1 layers/);
  assert.equal((await call('model:cancel-download', { downloadId: 'dl-1' })).ok, true);
});

test('opening a file that is not a model keeps the loaded one and says why', async () => {
  const notModel = path.join(dataDir, 'notes.gguf');
  writeFileSync(notModel, 'just text, not GGUF');
  const status = (await call('model:load', { path: notModel })) as Result<ModelStatus>;
  assert.ok(status.ok);
  assert.equal(status.data.state, 'ready', 'the previous model stays in service');
  assert.match(status.data.error?.code ?? '', /^GGUF_/);
  const missing = (await call('model:load', { path: path.join(dataDir, 'nowhere.gguf') })) as Result<ModelStatus>;
  assert.equal(missing.ok && missing.data.error?.code, 'MODEL_FILE_MISSING');
  const folder = (await call('model:load', { path: dataDir })) as Result<ModelStatus>;
  assert.equal(folder.ok && folder.data.error?.code, 'MODEL_NOT_A_FILE');
});
