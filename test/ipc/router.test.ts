import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Chat, Handlers, ModelStatus } from '../../main/ipc/contract.ts';
import { AppError, createRouter } from '../../main/ipc/router.ts';

const chat: Chat = { id: 'c1', title: 'New chat', createdAt: 1, updatedAt: 1, messages: [] };
const ready: ModelStatus = { state: 'ready', path: '/m.gguf', contextSize: 8192 };

function handlers(overrides: Partial<Handlers> = {}): Handlers {
  const unused = async (): Promise<never> => {
    throw new Error('not called in this test');
  };
  return {
    'model:load': async () => ready,
    'model:info': async () => ready,
    'chat:list': async () => ({ chats: [] }),
    'chat:get': async ({ chatId }) => ({ ...chat, id: chatId }),
    'chat:new': async () => chat,
    'chat:delete': unused,
    'chat:send': unused,
    'chat:stop': async () => ({ stopped: false }),
    'doc:open': unused,
    'doc:pick': unused,
    'doc:cancel': async () => ({ cancelled: false }),
    'doc:page': unused,
    'chat:regenerate': unused,
    'chat:edit': unused,
    'settings:get': unused,
    'settings:set': unused,
    'model:list': unused,
    'model:download': unused,
    'model:cancel-download': unused,
    ...overrides,
  };
}

const trusted = { id: 1 };
const route = createRouter({ handlers: handlers(), isKnownSender: (s: { id: number }) => s === trusted });

test('a valid request returns the handler data', async () => {
  assert.deepEqual(await route('chat:get', { chatId: 'abc' }, trusted), { ok: true, data: { ...chat, id: 'abc' } });
});

test('requests from an unknown sender are rejected before the handler runs', async () => {
  let called = false;
  const r = createRouter({ handlers: handlers({ 'model:info': async () => ((called = true), ready) }), isKnownSender: () => false });
  const result = await r('model:info', {}, { id: 2 });
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.code, 'IPC_UNKNOWN_SENDER');
  assert.equal(called, false);
});

test('unknown channels are rejected with a code', async () => {
  for (const channel of ['fs:read', '', 42, undefined, '__proto__', 'toString']) {
    const result = await route(channel, {}, trusted);
    assert.equal(!result.ok && result.code, 'IPC_UNKNOWN_CHANNEL', String(channel));
  }
});

test('bad payloads are rejected with IPC_BAD_REQUEST and name the field', async () => {
  const cases: [string, unknown, string][] = [
    ['chat:get', { chatId: '../../etc/passwd' }, 'chatId'],
    ['chat:get', {}, 'chatId'],
    ['chat:send', { chatId: 'c1', text: '   ' }, 'text'],
    ['chat:send', { chatId: 'c1', text: 'hi', maxTokens: 1e9 }, 'maxTokens'],
    ['doc:open', { chatId: 'c1', path: '/x.pdf', kind: 'exe' }, 'kind'],
    ['model:info', { extra: true }, ''],
    ['chat:get', 'c1', ''],
    ['doc:cancel', {}, 'chatId'],
    ['doc:page', { chatId: 'c1', source: 'r.pdf', page: 0 }, 'page'],
    ['doc:page', { chatId: 'c1', source: '', page: 1 }, 'source'],
    ['doc:page', { chatId: 'c1', source: 'r.pdf', page: 1.5 }, 'page'],
    ['chat:regenerate', { chatId: 'c1', attention: 'sparse' }, 'attention'],
    ['chat:regenerate', { chatId: 'c1', maxTokens: 0 }, 'maxTokens'],
    ['chat:edit', { chatId: 'c1', text: 'new question' }, 'messageId'],
    ['chat:edit', { chatId: 'c1', messageId: 'm1', text: ' ' }, 'text'],
    ['settings:set', { sparsity: 1 }, 'sparsity'],
    ['settings:set', { sparsity: '0.9' }, 'sparsity'],
    ['settings:set', { threads: 0 }, 'threads'],
    ['settings:set', { attention: 'sparse' }, 'attention'],
    ['settings:set', { gpu: 'yes' }, 'gpu'],
    ['settings:set', { theme: 'dark' }, ''],
    ['settings:get', { sparsity: 0.9 }, ''],
  ];
  for (const [channel, payload, field] of cases) {
    const result = await route(channel, payload, trusted);
    assert.equal(result.ok, false, `${channel} ${JSON.stringify(payload)}`);
    if (!result.ok) {
      assert.equal(result.code, 'IPC_BAD_REQUEST');
      assert.ok(result.message.includes(field), result.message);
    }
  }
});

test('the new channels pass valid payloads to their handlers', async () => {
  const seen: unknown[] = [];
  const r = createRouter({
    handlers: handlers({
      'doc:page': async (request) => (seen.push(request), { source: request.source, page: request.page, text: 'Page text' }),
      'settings:set': async (request) => (seen.push(request), { settings: { attention: 'squeezed', sparsity: 0.95, threads: 2, gpu: false }, system: { hardwareThreads: 2, gpu: { available: false, reason: 'none' } } }),
    }),
    isKnownSender: () => true,
  });
  assert.deepEqual(await r('doc:page', { chatId: 'c1', source: 'r.pdf', page: 3 }, null), { ok: true, data: { source: 'r.pdf', page: 3, text: 'Page text' } });
  const set = await r('settings:set', { sparsity: 0.95 }, null);
  assert.equal(set.ok, true);
  assert.deepEqual(seen, [{ chatId: 'c1', source: 'r.pdf', page: 3 }, { sparsity: 0.95 }]);
});

test('handler errors come back as data with their code, others as INTERNAL', async () => {
  const r = createRouter({
    handlers: handlers({
      'model:load': async () => {
        throw Object.assign(new Error('bad magic'), { code: 'GGUF_BAD_MAGIC' });
      },
      'chat:stop': async () => {
        throw new AppError('CHAT_NOT_FOUND', 'That chat no longer exists.');
      },
      'chat:list': async () => {
        throw new TypeError('x is undefined');
      },
    }),
    isKnownSender: () => true,
  });
  assert.deepEqual(await r('model:load', { path: '/a.gguf' }, null), { ok: false, code: 'GGUF_BAD_MAGIC', message: 'bad magic' });
  assert.deepEqual(await r('chat:stop', { chatId: 'c1' }, null), { ok: false, code: 'CHAT_NOT_FOUND', message: 'That chat no longer exists.' });
  const internal = await r('chat:list', {}, null);
  assert.equal(!internal.ok && internal.code, 'INTERNAL');
});

test('a handler answer that breaks the contract is not passed on', async () => {
  const r = createRouter({ handlers: handlers({ 'model:info': async () => ({ state: 'flying' }) as unknown as ModelStatus }), isKnownSender: () => true });
  const result = await r('model:info', {}, null);
  assert.equal(!result.ok && result.code, 'IPC_BAD_RESPONSE');
});
