// Chats with documents through the app core and the router, with the real engine and SmolLM2: the
// pack is built with progress (or loaded), answers carry Squeezed Attention stats and citations,
// follow-ups evaluate only their new tokens, regenerate / edit / page text / cancel / BUSY /
// too-large / context-full behave as the user is told.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createAppCore, type Emit } from '../../main/app/app-core.ts';
import type { Chat, EventPayload, Result } from '../../main/ipc/contract.ts';
import { createRouter } from '../../main/ipc/router.ts';

const PDF = 'test/fixtures/docs/report.pdf';
const dataDir = mkdtempSync(path.join(tmpdir(), 'squeeze-doc-chats-'));
const packDir = path.join(dataDir, 'packs');
const progress: EventPayload<'doc:progress'>[] = [];
const emit: Emit = (event, payload) => {
  if (event === 'doc:progress') progress.push(payload as EventPayload<'doc:progress'>);
};

function routed(contextSize: number) {
  const core = createAppCore({ dataDir, packDir, emit, threads: 2, contextSize });
  const route = createRouter({ handlers: core.handlers, isKnownSender: () => true });
  const call = async <T>(channel: string, payload: unknown): Promise<T> => {
    const result = (await route(channel, payload, null)) as Result<T>;
    if (!result.ok) throw Object.assign(new Error(result.message), { code: result.code });
    return result.data;
  };
  const fail = async (channel: string, payload: unknown): Promise<{ code: string; message: string }> => {
    const result = await route(channel, payload, null);
    assert.equal(result.ok, false, `${channel} should fail`);
    return result.ok ? { code: '', message: '' } : result;
  };
  return { core, call, fail };
}

const app = routed(2048);
await app.call('model:load', {});

test('opening a PDF builds its pack with progress per phase; a second chat loads it from disk', async () => {
  progress.length = 0;
  const chat = await app.call<Chat>('chat:new', {});
  const opened = await app.call<Chat>('doc:open', { chatId: chat.id, path: PDF, kind: 'pdf' });
  const pack = opened.documents?.pack;
  assert.equal(pack?.state, 'built');
  assert.ok(pack.bytes > 0 && pack.fixedTokens > (opened.documents?.tokens ?? 0) && pack.contextSize === 2048 && (pack.buildMs ?? 0) > 0);
  const phases = [...new Set(progress.map((p) => p.phase))];
  assert.deepEqual(phases, ['read', 'prefill', 'cluster', 'calibrate']);
  for (const p of progress) assert.ok(p.done <= p.total && p.chatId === chat.id, JSON.stringify(p));
  assert.ok(progress.some((p) => p.phase === 'cluster' && p.etaMs !== undefined && p.done < p.total), 'clustering reports an ETA');
  // The slider steps over the ladder the engine read from the pack.
  assert.deepEqual(pack.sparsities, [0.5, 0.7, 0.8, 0.9, 0.95]);
  assert.equal(pack.perLayerThresholds, true);

  const other = await app.call<Chat>('chat:new', {});
  const again = await app.call<Chat>('doc:open', { chatId: other.id, path: PDF, kind: 'pdf' });
  assert.equal(again.documents?.pack?.state, 'loaded');
  assert.ok((again.documents?.pack?.loadMs ?? -1) >= 0);
});

test('answers attend through the pack: stats, citations, only new tokens evaluated on a follow-up', async () => {
  const chat = await app.call<Chat>('chat:new', {});
  await app.call('doc:open', { chatId: chat.id, path: PDF, kind: 'pdf' });
  // Any sparsity may be set: the answer uses the pack's nearest calibrated one.
  await app.call('settings:set', { attention: 'squeezed', sparsity: 0.52 });
  const first = (await app.call<{ chat: Chat }>('chat:send', { chatId: chat.id, text: 'What is this report about?', maxTokens: 12 })).chat.messages[1];
  const s = first.stats!;
  assert.equal(s.attention, 'squeezed');
  const q = s.squeeze!;
  assert.equal(q.target, 0.5);
  assert.ok(q.sparsity > 0.3 && q.sparsity < 0.8, `sparsity near the 50% target: ${q.sparsity}`);
  assert.equal(q.keysPerHead.length, 30);
  assert.ok(q.keysPerHead.every((row) => row.length === 3 && row.every((k) => k > 0 && k < q.fixedTokens)));
  assert.ok(q.bytesRead > 0 && q.bytesRead < q.bytesDense && q.lookupMs > 0 && q.attentionMs > 0);
  const parts = [q.fixedAttentionMs ?? 0, q.dynamicAttentionMs ?? 0, q.mergeMs ?? 0];
  assert.ok(parts.every((ms) => ms > 0) && Math.abs(parts[0] + parts[1] + parts[2] - q.attentionMs) < 1e-6 * q.attentionMs, `attention split ${parts} of ${q.attentionMs}`);
  assert.ok(first.citations && first.citations.length > 0 && first.citations.every((c) => c.source === 'report.pdf' && c.page >= 1 && c.page <= 4));

  const second = (await app.call<{ chat: Chat }>('chat:send', { chatId: chat.id, text: 'And the last page?', maxTokens: 8 })).chat.messages[3];
  const evaluated = second.stats!.nPrompt - second.stats!.nPromptReused;
  assert.ok(evaluated > 0 && evaluated < 30, `the follow-up evaluated only its own tokens: ${evaluated}`);
  assert.ok(second.stats!.nPromptReused >= s.nPrompt + s.nGenerated - 1, 'the document and the first turn were reused');

  const cited = first.citations![0];
  const page = await app.call<{ text: string; page: number }>('doc:page', { chatId: chat.id, source: cited.source, page: cited.page });
  assert.equal(page.page, cited.page);
  assert.ok(page.text.length > 10 && !page.text.includes('<page') && !page.text.includes('</page>'));
  assert.equal((await app.fail('doc:page', { chatId: chat.id, source: 'report.pdf', page: 99 })).code, 'PAGE_NOT_FOUND');
});

test('regenerate replaces the last answer (dense on request); edit drops what followed the question', async () => {
  const chat = await app.call<Chat>('chat:new', {});
  assert.equal((await app.fail('chat:regenerate', { chatId: chat.id })).code, 'NOTHING_TO_REGENERATE');
  await app.call('doc:open', { chatId: chat.id, path: PDF, kind: 'pdf' });
  await app.call('chat:send', { chatId: chat.id, text: 'What is this report about?', maxTokens: 6 });
  const asked = (await app.call<{ chat: Chat }>('chat:send', { chatId: chat.id, text: 'Who wrote it?', maxTokens: 6 })).chat;

  const dense = (await app.call<{ chat: Chat }>('chat:regenerate', { chatId: chat.id, attention: 'dense', maxTokens: 6 })).chat;
  assert.equal(dense.messages.length, 4);
  assert.deepEqual(dense.messages.slice(0, 3), asked.messages.slice(0, 3));
  assert.notEqual(dense.messages[3].id, asked.messages[3].id);
  assert.equal(dense.messages[3].stats?.attention, 'dense');
  assert.equal(dense.messages[3].stats?.squeeze, undefined);

  const question = dense.messages[0];
  assert.equal((await app.fail('chat:edit', { chatId: chat.id, messageId: dense.messages[1].id, text: 'x' })).code, 'NOT_A_QUESTION');
  const edited = (await app.call<{ chat: Chat }>('chat:edit', { chatId: chat.id, messageId: question.id, text: 'Which page mentions Zürich?', maxTokens: 6 })).chat;
  assert.equal(edited.messages.length, 2);
  assert.equal(edited.messages[0].content, 'Which page mentions Zürich?');
  assert.equal(edited.messages[1].role, 'assistant');
  assert.deepEqual(await app.call('chat:get', { chatId: chat.id }), edited, 'the edit is what was saved');
});

test('a question while documents are processed is BUSY; cancel keeps the chat as it was', async () => {
  const chat = await app.call<Chat>('chat:new', {});
  // ~700 tokens: two prefill batches, and a text no earlier test built a pack for.
  const notes = path.join(dataDir, 'notes.txt');
  writeFileSync(notes, Array.from({ length: 50 }, (_, i) => `Item ${i} of the inventory weighs ${i * 7} grams.`).join('\n'));
  const opening = app.fail('doc:open', { chatId: chat.id, path: notes, kind: 'pdf' });
  const reading = await app.fail('chat:send', { chatId: chat.id, text: 'Ready?' });
  assert.equal(reading.code, 'BUSY');
  assert.match(reading.message, /documents are still being read/);
  // Cancelled inside the pack build.
  const outcome = opening.then((e) => e.code);
  while (!progress.some((p) => p.chatId === chat.id && p.phase === 'prefill' && p.done > 0)) {
    assert.equal(await Promise.race([outcome, new Promise((r) => setTimeout(r, 20))]), undefined, 'no pack build started');
  }
  const building = await app.fail('chat:send', { chatId: chat.id, text: 'Ready?' });
  assert.equal(building.code, 'BUSY');
  assert.match(building.message, /documents are still being processed \(prefill \d+%\)/);
  assert.deepEqual(await app.call('doc:cancel', { chatId: chat.id }), { cancelled: true });
  assert.equal((await opening).code, 'DOC_CANCELLED');
  const after = await app.call<Chat>('chat:get', { chatId: chat.id });
  assert.equal(after.documents, undefined);
  assert.deepEqual(after.messages, []);
  assert.deepEqual(await app.call('doc:cancel', { chatId: chat.id }), { cancelled: false });
});

test('documents larger than the context are refused with their token counts', async () => {
  const small = routed(1200);
  await small.call('model:load', {});
  const chat = await small.call<Chat>('chat:new', {});
  const refused = await small.fail('doc:open', { chatId: chat.id, path: PDF, kind: 'pdf' });
  assert.equal(refused.code, 'DOC_TOO_LARGE');
  assert.match(refused.message, /report\.pdf is \d+ tokens; the model's context holds 1200/);
});

test('a question that overflows the context is refused and the chat is left as it was', async () => {
  const chat = await app.call<Chat>('chat:new', {});
  await app.call('doc:open', { chatId: chat.id, path: PDF, kind: 'pdf' });
  const refused = await app.fail('chat:send', { chatId: chat.id, text: 'word '.repeat(2000), maxTokens: 4 });
  assert.equal(refused.code, 'CONTEXT_FULL');
  assert.match(refused.message, /Start a new chat on the same documents/);
  assert.deepEqual((await app.call<Chat>('chat:get', { chatId: chat.id })).messages, []);
});

test('documents opened before the model loads get their pack at the first question, which Stop cancels', async () => {
  const early = routed(2048);
  const chat = await early.call<Chat>('chat:new', {});
  const notes = path.join(dataDir, 'early-notes.txt');
  writeFileSync(notes, Array.from({ length: 50 }, (_, i) => `Shelf ${i} of the archive holds ${i * 11} folders.`).join('\n'));
  const opened = await early.call<Chat>('doc:open', { chatId: chat.id, path: notes, kind: 'pdf' });
  assert.equal(opened.documents?.pack, undefined, 'no model yet: no pack');
  await early.call('model:load', {});
  const sending = early.fail('chat:send', { chatId: chat.id, text: 'How many folders are on shelf 3?', maxTokens: 8 });
  while (!progress.some((p) => p.chatId === chat.id && p.phase === 'prefill' && p.done > 0)) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await early.call('chat:stop', { chatId: chat.id }), { stopped: true });
  assert.match((await sending).code, /^(DOC_CANCELLED|CANCELLED)$/);
  assert.deepEqual((await early.call<Chat>('chat:get', { chatId: chat.id })).messages, [], 'the question is not kept unanswered');

  const answered = (await early.call<{ chat: Chat }>('chat:send', { chatId: chat.id, text: 'How many folders are on shelf 3?', maxTokens: 8 })).chat;
  assert.equal(answered.documents?.pack?.state, 'built');
  assert.equal(answered.messages.length, 2);
});

test('a build records its rate in the pack dir, and the next build announces an ETA from it', async () => {
  const chat = await app.call<Chat>('chat:new', {});
  for (const floor of [1, 2]) {
    progress.length = 0;
    const notes = path.join(dataDir, `floor-${floor}.txt`);
    writeFileSync(notes, Array.from({ length: 12 }, (_, i) => `Room ${floor}${i} has ${i * 3} chairs.`).join('\n'));
    await app.call('doc:open', { chatId: chat.id, path: notes, kind: 'pdf' });
  }
  const announced = progress.find((p) => p.chatId === chat.id && p.phase === 'prefill' && p.done === 0);
  assert.ok(announced && announced.etaMs !== undefined && announced.etaMs > 0, `an ETA before the first batch: ${JSON.stringify(announced)}`);
  assert.ok(existsSync(path.join(packDir, 'build-rates.json')));
});
