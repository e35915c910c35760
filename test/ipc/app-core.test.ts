// The main-process core through the router, with the real engine and SmolLM2: what the renderer
// relies on (streamed text = stored answer, real timings, prefix reuse, stop, persistence).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createAppCore, type Emit } from '../../main/app/app-core.ts';
import type { Chat, EventPayload, Result } from '../../main/ipc/contract.ts';
import { createRouter } from '../../main/ipc/router.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'squeeze-app-'));
const deltas: EventPayload<'chat:delta'>[] = [];
let onDelta: ((d: EventPayload<'chat:delta'>) => void) | undefined;
const emit: Emit = (event, payload) => {
  if (event === 'chat:delta') {
    deltas.push(payload as EventPayload<'chat:delta'>);
    onDelta?.(payload as EventPayload<'chat:delta'>);
  }
};
const core = createAppCore({ dataDir, packDir: path.join(dataDir, 'packs'), emit, threads: 2, contextSize: 2048 });
const route = createRouter({ handlers: core.handlers, isKnownSender: () => true });

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const result = (await route(channel, payload, null)) as Result<T>;
  if (!result.ok) throw Object.assign(new Error(result.message), { code: result.code });
  return result.data;
}

async function callError(channel: string, payload: unknown): Promise<string> {
  const result = await route(channel, payload, null);
  assert.equal(result.ok, false);
  return result.ok ? '' : result.code;
}

test('sending before a model is loaded is a coded error', async () => {
  const chat = await call<Chat>('chat:new', {});
  assert.equal(await callError('chat:send', { chatId: chat.id, text: 'hi' }), 'MODEL_NOT_LOADED');
});

test('a bad model path leaves a coded error in the status', async () => {
  const status = await call<{ state: string; error?: { code: string } }>('model:load', { path: path.join(dataDir, 'missing.gguf') });
  assert.equal(status.state, 'error');
  assert.ok(status.error?.code);
});

test('chat with documents: streaming, timings, prefix reuse, stop, persistence', async () => {
  const status = await call<{ state: string; contextSize: number }>('model:load', {});
  assert.equal(status.state, 'ready');
  assert.equal(status.contextSize, 2048);

  const chat = await call<Chat>('chat:new', {});
  assert.equal(await callError('doc:open', { chatId: chat.id, path: 'test/fixtures/docs', kind: 'pdf' }), 'DOC_NOT_A_FILE');
  const withDoc = await call<Chat>('doc:open', { chatId: chat.id, path: 'test/fixtures/docs/report.pdf', kind: 'pdf' });
  assert.deepEqual(withDoc.documents?.documents, [{ source: 'report.pdf', pages: 4 }]);
  assert.ok((withDoc.documents?.tokens ?? 0) > 100);
  assert.equal(withDoc.title, 'report.pdf');

  const first = (await call<{ chat: Chat }>('chat:send', { chatId: chat.id, text: 'What is this report about?', maxTokens: 12 })).chat;
  const answer = first.messages[1];
  assert.equal(answer.role, 'assistant');
  assert.ok(answer.content.length > 0);
  assert.equal(deltas.filter((d) => d.messageId === answer.id).map((d) => d.text).join(''), answer.content);
  const s = answer.stats!;
  assert.ok(s.nPrompt > (withDoc.documents?.tokens ?? 0), 'the documents are in the prompt');
  assert.ok(s.prefillMs > 0 && s.decodeTokensPerSecond > 0 && s.nGenerated > 0);
  assert.equal(s.contextUsed, s.nPrompt + s.nGenerated);

  const second = (await call<{ chat: Chat }>('chat:send', { chatId: chat.id, text: 'And the last page?', maxTokens: 8 })).chat;
  assert.equal(second.messages.length, 4);
  assert.ok(second.messages[3].stats!.nPromptReused >= s.nPrompt, 'the follow-up reuses the first prompt');

  onDelta = () => void call('chat:stop', { chatId: chat.id });
  const sending = call<{ chat: Chat }>('chat:send', { chatId: chat.id, text: 'Write a long essay about it.', maxTokens: 2000 });
  assert.equal(await callError('chat:send', { chatId: chat.id, text: 'And another thing' }), 'BUSY');
  const stopped = (await sending).chat;
  onDelta = undefined;
  const last = stopped.messages[5];
  assert.equal(last.stopReason, 'cancelled');
  assert.ok(last.stats!.nGenerated < 100);

  // A fresh core over the same data dir (an app restart) finds the chat and its documents.
  const again = createAppCore({ dataDir, packDir: path.join(dataDir, 'packs'), emit: () => {} });
  const reloaded = createRouter({ handlers: again.handlers, isKnownSender: () => true });
  const list = (await reloaded('chat:list', {}, null)) as Result<{ chats: { id: string }[] }>;
  assert.ok(list.ok && list.data.chats.some((c) => c.id === chat.id));
  const restored = await reloaded('chat:get', { chatId: chat.id }, null);
  assert.ok(restored.ok);
  assert.deepEqual(restored.data, stopped);
  assert.deepEqual(readdirSync(path.join(dataDir, 'chats')).filter((f) => f.endsWith('.tmp')), []);
});
