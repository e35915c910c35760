// The model manager's slice against a scripted bridge: downloads with progress, cancel, errors,
// then the downloaded model is loaded; typed input is checked before anything is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from 'zustand/vanilla';

import type { Result } from '../../main/ipc/contract.ts';
import { connectEvents, createAppStore } from '../../renderer/src/store/app-store.ts';
import { createModelsSlice, urlSource } from '../../renderer/src/store/models-slice.ts';
import type { AppState } from '../../renderer/src/store/types.ts';
import { fakeBridge } from './fake-bridge.ts';

const ok = <T>(data: T): Result<T> => ({ ok: true, data });
const tick = () => new Promise((r) => setImmediate(r));
const modelPath = '/data/models/m.gguf';

test('a download shows its progress, then the model is listed and loaded', async () => {
  let finish!: (r: Result<unknown>) => void;
  const { bridge, calls, emit } = fakeBridge({
    'model:download': () => new Promise((resolve) => (finish = resolve)),
    'model:list': () => ok({ modelsDir: '/data/models', models: [{ name: 'm.gguf', file: 'm.gguf', path: modelPath, bytes: 10 }] }),
    'model:load': ({ path }) => ok({ state: 'ready', path }),
  });
  const store = createAppStore(bridge);
  connectEvents(store, bridge);
  const downloading = store.getState().downloadModel({ kind: 'url', url: 'https://h/m.gguf' }, 'https://h/m.gguf');
  await tick();
  const id = store.getState().download?.downloadId;
  assert.ok(id);
  assert.deepEqual(calls.at(-1), ['model:download', { downloadId: id, source: { kind: 'url', url: 'https://h/m.gguf' } }]);
  emit('model:download-progress', { downloadId: id, phase: 'downloading', received: 40, total: 100 });
  emit('model:download-progress', { downloadId: 'someone-else', phase: 'checking', received: 1, total: 1 });
  assert.deepEqual(
    { phase: store.getState().download?.phase, received: store.getState().download?.received, total: store.getState().download?.total },
    { phase: 'downloading', received: 40, total: 100 },
  );
  await store.getState().downloadModel({ kind: 'known', modelId: 'x' }, 'x');
  assert.equal(calls.filter(([c]) => c === 'model:download').length, 1, 'one download at a time');
  finish(ok({ path: modelPath, sha256: 'a'.repeat(64), bytes: 10 }));
  await downloading;
  assert.equal(store.getState().download, undefined);
  assert.equal(store.getState().modelEntries[0]?.path, modelPath);
  assert.deepEqual(calls.at(-1), ['model:load', { path: modelPath }]);
  assert.equal(store.getState().model.state, 'ready');
});

test('cancel sends the download id; the cancelled download ends with the main process\'s words', async () => {
  let finish!: (r: Result<unknown>) => void;
  const { bridge, calls } = fakeBridge({
    'model:download': () => new Promise((resolve) => (finish = resolve)),
    'model:cancel-download': () => {
      finish({ ok: false, code: 'DOWNLOAD_CANCELLED', message: 'The download was cancelled; starting it again resumes it.' });
      return ok({ cancelled: true });
    },
  });
  const store = createAppStore(bridge);
  const downloading = store.getState().downloadModel({ kind: 'known', modelId: 'smollm2-135m-instruct' }, 'SmolLM2');
  await tick();
  const id = store.getState().download!.downloadId;
  await store.getState().cancelDownload();
  await downloading;
  assert.deepEqual(calls.find(([c]) => c === 'model:cancel-download'), ['model:cancel-download', { downloadId: id }]);
  assert.equal(store.getState().download, undefined);
  assert.equal(store.getState().modelsError?.code, 'DOWNLOAD_CANCELLED');
  assert.equal(calls.some(([c]) => c === 'model:load'), false);
});

test('typed input is checked before anything is sent', async () => {
  assert.deepEqual(urlSource('  https://h/m.gguf ', ''), { kind: 'url', url: 'https://h/m.gguf' });
  assert.deepEqual(urlSource('https://h/m.gguf', ` ${'AB'.repeat(32)} `), { kind: 'url', url: 'https://h/m.gguf', sha256: 'ab'.repeat(32) });
  assert.equal((urlSource('https://h/m.gguf', 'abc') as { code: string }).code, 'DOWNLOAD_BAD_SHA256');
  assert.equal((urlSource('   ', '') as { code: string }).code, 'DOWNLOAD_NO_URL');
  const { bridge, calls } = fakeBridge({});
  const store = createAppStore(bridge);
  await store.getState().openModelPath('  ');
  assert.equal(store.getState().modelsError?.code, 'MODEL_NO_PATH');
  assert.equal(calls.length, 0);
});

test('the download rate is measured from the first progress event, so a resumed download is not counted fast', async () => {
  let now = 1_000;
  const { bridge } = fakeBridge({ 'model:download': () => new Promise(() => {}) });
  const store = createStore<AppState>()((...a) => ({ ...createModelsSlice(bridge, () => 'dl-1', () => now)(...a) }) as AppState);
  void store.getState().downloadModel({ kind: 'url', url: 'https://h/m.gguf' }, 'm');
  store.getState().setDownloadProgress({ downloadId: 'dl-1', phase: 'downloading', received: 40e6, total: 100e6 });
  assert.equal(store.getState().download?.bytesPerSecond, undefined);
  now += 2_000;
  store.getState().setDownloadProgress({ downloadId: 'dl-1', phase: 'downloading', received: 50e6, total: 100e6 });
  assert.equal(store.getState().download?.bytesPerSecond, 5e6);
  store.getState().setDownloadProgress({ downloadId: 'dl-1', phase: 'checking', received: 100e6, total: 100e6 });
  assert.equal(store.getState().download?.bytesPerSecond, undefined, 'no rate once the bytes are in');
});
