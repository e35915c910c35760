// Dropping on the window: what each kind of item opens, and what browser mode says instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Bridge } from '../../renderer/src/bridge.ts';
import { createAppStore } from '../../renderer/src/store/app-store.ts';
import { fakeBridge } from './fake-bridge.ts';

/** A scripted bridge; with `paths` it is the desktop app's (dialogs, and paths of dropped files). */
function bridgeWithPaths(paths: Map<File, string> | undefined) {
  const chat = { id: 'c1', title: 't', createdAt: 1, updatedAt: 1, messages: [] };
  const { bridge, calls } = fakeBridge({
    'chat:new': () => ({ ok: true, data: chat }),
    'chat:list': () => ({ ok: true, data: { chats: [] } }),
    'doc:open': () => ({ ok: true, data: chat }),
    'model:load': ({ path }) => ({ ok: true, data: { state: 'ready', path } }),
  });
  const desktop: Bridge = { ...bridge, canPickFiles: paths !== undefined, pathForFile: paths && ((file) => paths.get(file) ?? '') };
  return { bridge: desktop, calls };
}

const file = (name: string) => new File(['x'], name);

test('in the desktop app a dropped PDF, folder or model opens from its path on disk', async () => {
  const pdf = file('Report.PDF');
  const folder = file('notes');
  const model = file('m.gguf');
  const { bridge, calls } = bridgeWithPaths(new Map([[pdf, '/home/me/Report.PDF'], [folder, '/home/me/notes'], [model, '/models/m.gguf']]));
  const store = createAppStore(bridge);
  assert.equal(store.getState().canDropFiles, true);
  await store.getState().dropItems([{ file: pdf, isDirectory: false }]);
  await store.getState().dropItems([{ file: folder, isDirectory: true }]);
  await store.getState().dropItems([{ file: model, isDirectory: false }]);
  assert.deepEqual(
    calls.filter(([c]) => c === 'doc:open' || c === 'model:load'),
    [
      ['doc:open', { chatId: 'c1', path: '/home/me/Report.PDF', kind: 'pdf' }],
      ['doc:open', { chatId: 'c1', path: '/home/me/notes', kind: 'folder' }],
      ['model:load', { path: '/models/m.gguf' }],
    ],
  );
  assert.equal(store.getState().dropNotice, undefined);
});

test('what cannot be opened gets a notice and no request', async () => {
  const text = file('a.txt');
  const web = file('from-browser.pdf');
  const { bridge, calls } = bridgeWithPaths(new Map([[text, '/a.txt']]));
  const store = createAppStore(bridge);
  await store.getState().dropItems([{ file: text, isDirectory: false }]);
  assert.equal(store.getState().dropNotice?.code, 'DROP_UNSUPPORTED');
  await store.getState().dropItems([{ file: web, isDirectory: false }]);
  assert.equal(store.getState().dropNotice?.code, 'DROP_NO_PATH');
  await store.getState().dropItems([
    { file: text, isDirectory: false },
    { file: web, isDirectory: false },
  ]);
  assert.equal(store.getState().dropNotice?.code, 'DROP_ONE_ITEM');
  assert.deepEqual(calls, []);
  store.getState().clearDropNotice();
  assert.equal(store.getState().dropNotice, undefined);
});

test('browser mode says dropping needs the desktop app and points to the path field', async () => {
  const { bridge, calls } = bridgeWithPaths(undefined);
  const store = createAppStore(bridge);
  assert.equal(store.getState().canDropFiles, false);
  await store.getState().dropItems([{ file: file('a.pdf'), isDirectory: false }]);
  assert.equal(store.getState().dropNotice?.code, 'DROP_NEEDS_DESKTOP');
  assert.match(store.getState().dropNotice?.message ?? '', /desktop app.*Document path/);
  assert.deepEqual(calls, []);
});
