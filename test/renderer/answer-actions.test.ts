// The store's answer actions (regenerate, edit, refusals), cited pages, pack cancel and settings,
// against a scripted bridge.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Chat, Result, Settings, SystemInfo } from '../../main/ipc/contract.ts';
import { createAppStore } from '../../renderer/src/store/app-store.ts';
import { fakeBridge } from './fake-bridge.ts';

const ok = <T>(data: T): Result<T> => ({ ok: true, data });
const conversation: Chat = {
  id: 'c1',
  title: 'report.pdf',
  createdAt: 1,
  updatedAt: 1,
  messages: [
    { id: 'q1', role: 'user', content: 'What is it?' },
    { id: 'a1', role: 'assistant', content: 'A report.' },
    { id: 'q2', role: 'user', content: 'Who wrote it?' },
    { id: 'a2', role: 'assistant', content: 'Nobody knows.' },
  ],
};
const system: SystemInfo = { hardwareThreads: 4, gpu: { available: false, reason: 'No usable NVIDIA GPU was found.' } };
const settings: Settings = { attention: 'squeezed', sparsity: 0.8, threads: 4, gpu: false };

test('regenerate hides the answer it replaces while it streams, then shows the stored chat', async () => {
  let finish!: (r: Result<unknown>) => void;
  const rewritten: Chat = { ...conversation, messages: [...conversation.messages.slice(0, 3), { id: 'a3', role: 'assistant', content: 'A team.' }] };
  const { bridge, calls } = fakeBridge({ 'chat:regenerate': () => new Promise((resolve) => (finish = resolve)), 'chat:list': () => ok({ chats: [] }) });
  const store = createAppStore(bridge);
  store.setState({ current: conversation });
  const regenerating = store.getState().regenerate('dense');
  assert.deepEqual(store.getState().pending, { chatId: 'c1', question: 'Who wrote it?', replacesFrom: 'q2', text: '', stopping: false });
  assert.deepEqual(calls[0], ['chat:regenerate', { chatId: 'c1', attention: 'dense' }]);
  finish(ok({ chat: rewritten }));
  assert.equal(await regenerating, true);
  assert.deepEqual(store.getState().current, rewritten);
  assert.equal(store.getState().pending, undefined);
});

test('regenerate needs a last answer; edit sends the trimmed text for the chosen question', async () => {
  const { bridge, calls } = fakeBridge({ 'chat:edit': () => ok({ chat: conversation }), 'chat:list': () => ok({ chats: [] }) });
  const store = createAppStore(bridge);
  store.setState({ current: { ...conversation, messages: conversation.messages.slice(0, 3) } });
  assert.equal(await store.getState().regenerate(), false);
  assert.equal(calls.length, 0);
  assert.equal(await store.getState().edit('q1', '  Which page?  '), true);
  assert.deepEqual(calls[0], ['chat:edit', { chatId: 'c1', messageId: 'q1', text: 'Which page?' }]);
  assert.equal(await store.getState().edit('q1', '   '), false, 'an empty edit is not sent');
});

test('a refused question returns false, shows the error and re-reads the chat', async () => {
  const { bridge, calls } = fakeBridge({
    'chat:send': () => ({ ok: false, code: 'BUSY', message: 'The documents are still being processed (prefill 40%): ask again when they are ready.' }),
    'chat:get': () => ok(conversation),
    'chat:list': () => ok({ chats: [] }),
  });
  const store = createAppStore(bridge);
  store.setState({ current: conversation });
  assert.equal(await store.getState().send('Ready?'), false);
  assert.equal(store.getState().chatError?.code, 'BUSY');
  assert.ok(calls.some(([c]) => c === 'chat:get'));
});

test('a citation opens its page text; errors and closing are kept apart', async () => {
  const { bridge } = fakeBridge({
    'doc:page': ({ page }) => (page === 4 ? ok({ source: 'report.pdf', page: 4, text: 'The last page.' }) : { ok: false, code: 'PAGE_NOT_FOUND', message: 'report.pdf has no page 9.' }),
  });
  const store = createAppStore(bridge);
  store.setState({ current: conversation });
  await store.getState().showPage('report.pdf', 4);
  assert.deepEqual(store.getState().page, { source: 'report.pdf', page: 4, text: 'The last page.' });
  await store.getState().showPage('report.pdf', 9);
  assert.equal(store.getState().page, undefined);
  assert.equal(store.getState().pageError?.code, 'PAGE_NOT_FOUND');
  store.getState().closePage();
  assert.equal(store.getState().pageError, undefined);
});

test('cancel asks the main process only while documents are being opened', async () => {
  const { bridge, calls } = fakeBridge({ 'doc:cancel': () => ok({ cancelled: true }) });
  const store = createAppStore(bridge);
  store.setState({ current: conversation });
  await store.getState().cancelOpening();
  assert.equal(calls.length, 0);
  store.setState({ opening: true });
  await store.getState().cancelOpening();
  assert.deepEqual(calls, [['doc:cancel', { chatId: 'c1' }]]);
});

test('settings: loaded with the system info, changed at once, put back when refused', async () => {
  let refuse = false;
  const { bridge } = fakeBridge({
    'settings:get': () => ok({ settings, system }),
    'settings:set': (change) => (refuse ? { ok: false, code: 'IPC_BAD_REQUEST', message: 'Bad request on settings:set (sparsity).' } : ok({ settings: { ...settings, ...change }, system })),
  });
  const store = createAppStore(bridge);
  await store.getState().loadSettings();
  assert.deepEqual(store.getState().system, system);
  const updating = store.getState().updateSettings({ attention: 'dense' });
  assert.equal(store.getState().settings?.attention, 'dense', 'shown before the main process answers');
  await updating;
  assert.equal(store.getState().settings?.attention, 'dense');
  refuse = true;
  await store.getState().updateSettings({ sparsity: 0.6 });
  assert.equal(store.getState().settings?.sparsity, 0.8);
  assert.equal(store.getState().settingsError?.code, 'IPC_BAD_REQUEST');
});
