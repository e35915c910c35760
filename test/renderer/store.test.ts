// The store's slices against a scripted bridge: what the chat, document and model panes show.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Chat, Result } from '../../main/ipc/contract.ts';
import { connectEvents, createAppStore, startApp } from '../../renderer/src/store/app-store.ts';
import { fakeBridge } from './fake-bridge.ts';

const chat = (id: string, messages: Chat['messages'] = []): Chat => ({ id, title: id, createdAt: 1, updatedAt: 1, messages });
const ok = <T>(data: T): Result<T> => ({ ok: true, data });

test('startup shows the model status, opens the most recent chat and loads the model when none is', async () => {
  const { bridge, calls } = fakeBridge({
    'model:info': () => ok({ state: 'none' }),
    'model:load': () => ok({ state: 'ready', path: '/m.gguf', contextSize: 8192 }),
    'chat:list': () => ok({ chats: [{ id: 'recent', title: 'r', updatedAt: 9 }, { id: 'old', title: 'o', updatedAt: 1 }] }),
    'chat:get': ({ chatId }) => ok(chat(chatId)),
  });
  const store = createAppStore(bridge);
  await startApp(store);
  assert.equal(store.getState().current?.id, 'recent');
  assert.equal(store.getState().model.state, 'ready');
  assert.deepEqual(calls.find(([c]) => c === 'model:load'), ['model:load', {}]);
});

test('an answer streams into pending, then the stored chat replaces it', async () => {
  let finish!: (r: Result<unknown>) => void;
  const answered = chat('c1', [
    { id: 'q', role: 'user', content: 'Why?' },
    { id: 'a', role: 'assistant', content: 'Because.' },
  ]);
  const { bridge, emit } = fakeBridge({
    'chat:new': () => ok(chat('c1')),
    'chat:list': () => ok({ chats: [] }),
    'chat:send': () => new Promise((resolve) => (finish = resolve)),
  });
  const store = createAppStore(bridge);
  connectEvents(store, bridge);
  const sending = store.getState().send('  Why?  ');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(store.getState().pending, { chatId: 'c1', question: 'Why?', text: '', stopping: false });
  emit('chat:delta', { chatId: 'c1', messageId: 'a', text: 'Be' });
  emit('chat:delta', { chatId: 'other', messageId: 'x', text: 'NOT MINE' });
  emit('chat:delta', { chatId: 'c1', messageId: 'a', text: 'cause.' });
  assert.equal(store.getState().pending?.text, 'Because.');
  finish(ok({ chat: answered }));
  await sending;
  assert.equal(store.getState().pending, undefined);
  assert.deepEqual(store.getState().current, answered);
});

test('a refused question leaves a coded error and the chat as stored', async () => {
  const stored = chat('c1', [{ id: 'q', role: 'user', content: 'Hi' }]);
  const { bridge } = fakeBridge({
    'chat:list': () => ok({ chats: [] }),
    'chat:get': () => ok(stored),
    'chat:send': () => ({ ok: false, code: 'CONTEXT_FULL', message: 'The conversation no longer fits.' }),
  });
  const store = createAppStore(bridge);
  store.setState({ current: chat('c1') });
  await store.getState().send('Hi');
  assert.deepEqual(store.getState().chatError, { code: 'CONTEXT_FULL', message: 'The conversation no longer fits.' });
  assert.deepEqual(store.getState().current, stored);
});

test('stop asks the main process to stop the pending chat and marks it stopping', async () => {
  const { bridge, calls } = fakeBridge({ 'chat:stop': () => ok({ stopped: true }) });
  const store = createAppStore(bridge);
  await store.getState().stop();
  assert.equal(calls.length, 0, 'nothing to stop');
  store.setState({ pending: { chatId: 'c9', question: 'q', text: 'partial', stopping: false } });
  await store.getState().stop();
  assert.deepEqual(calls, [['chat:stop', { chatId: 'c9' }]]);
  assert.equal(store.getState().pending?.stopping, true);
});

test('opening documents: empty path is refused locally, errors and progress are kept', async () => {
  const { bridge, calls, emit } = fakeBridge({
    'doc:open': ({ path }) => {
      if (path === '/bad.pdf') return { ok: false, code: 'PDF_CORRUPT', message: 'bad.pdf is damaged.' };
      emit('doc:progress', { chatId: 'c1', done: 1, total: 1, source: 'r.pdf' });
      return ok({ ...chat('c1'), documents: { root: path, kind: 'pdf', documents: [{ source: 'r.pdf', pages: 4 }], skipped: [] } });
    },
    'chat:list': () => ok({ chats: [] }),
  });
  const store = createAppStore(bridge);
  connectEvents(store, bridge);
  store.setState({ current: chat('c1') });
  await store.getState().openDocuments('  ', 'pdf');
  assert.equal(store.getState().docError?.code, 'DOC_NO_PATH');
  assert.equal(calls.length, 0);
  await store.getState().openDocuments('/bad.pdf', 'pdf');
  assert.equal(store.getState().docError?.code, 'PDF_CORRUPT');
  await store.getState().openDocuments('/r.pdf', 'pdf');
  assert.equal(store.getState().docError, undefined);
  assert.equal(store.getState().opening, false);
  assert.deepEqual(store.getState().current?.documents?.documents, [{ source: 'r.pdf', pages: 4 }]);
  assert.deepEqual(store.getState().progress, { chatId: 'c1', done: 1, total: 1, source: 'r.pdf' });
});

test('model load failures reach the model slice as an error the user can read', async () => {
  const { bridge } = fakeBridge({ 'model:load': () => ({ ok: false, code: 'BUSY', message: 'An answer is being written.' }) });
  const store = createAppStore(bridge);
  await store.getState().loadModel('/x.gguf');
  assert.deepEqual(store.getState().model, { state: 'error', error: { code: 'BUSY', message: 'An answer is being written.' } });
});
