// The single source of truth for what crosses between the renderer and the main process, in
// Electron (ipcMain.handle) and in browser mode (WebSocket). Every request, response and event has a
// zod schema; the router validates both directions, so neither side trusts the other's types.
import { z } from 'zod';

import type { EventChannel, RequestChannel } from './channels.ts';

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const path = z.string().min(1).max(4096);
const count = z.number().int().nonnegative();
const ms = z.number().nonnegative();

export const ModelStatus = z.object({
  state: z.enum(['none', 'loading', 'ready', 'error']),
  path: z.string().optional(),
  /** e.g. "llama, 30 layers, 134.5M parameters" */
  description: z.string().optional(),
  contextSize: count.optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

/** What the engine measured for one answer; nothing here is estimated. */
export const AnswerStats = z.object({
  nPrompt: count,
  nPromptReused: count,
  nGenerated: count,
  prefillMs: ms,
  decodeMs: ms,
  prefillTokensPerSecond: ms,
  decodeTokensPerSecond: ms,
  /** tokens in the KV cache after the answer: prompt + generated */
  contextUsed: count,
  contextSize: count,
});

export const Message = z.object({
  id,
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  stats: AnswerStats.optional(),
  stopReason: z.enum(['eog', 'max_tokens', 'cancelled', 'context_full', 'stop_string']).optional(),
});

export const SkippedItem = z.object({ source: z.string(), page: count.optional(), reason: z.string() });

/** The documents attached to a chat (their text is kept in the main process, not sent here). */
export const DocumentSet = z.object({
  root: z.string(),
  kind: z.enum(['pdf', 'folder']),
  documents: z.array(z.object({ source: z.string(), pages: count })),
  skipped: z.array(SkippedItem),
  /** tokens of the rendered context, counted with the loaded model's tokenizer */
  tokens: count.optional(),
});

export const Chat = z.object({
  id,
  title: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  messages: z.array(Message),
  documents: DocumentSet.optional(),
});

export const ChatSummary = Chat.pick({ id: true, title: true, updatedAt: true });

const empty = z.object({}).strict();
const chatRef = z.object({ chatId: id }).strict();

export const requests = {
  'model:load': { request: z.object({ path: path.optional() }).strict(), response: ModelStatus },
  'model:info': { request: empty, response: ModelStatus },
  'chat:list': { request: empty, response: z.object({ chats: z.array(ChatSummary) }) },
  'chat:get': { request: chatRef, response: Chat },
  'chat:new': { request: empty, response: Chat },
  'chat:delete': { request: chatRef, response: z.object({ deleted: z.boolean() }) },
  /** Resolves when the answer is complete (or stopped); its text streams as 'chat:delta' events. */
  'chat:send': {
    request: z.object({ chatId: id, text: z.string().trim().min(1).max(20_000), maxTokens: z.number().int().min(1).max(4096).optional() }).strict(),
    response: z.object({ chat: Chat }),
  },
  'chat:stop': { request: chatRef, response: z.object({ stopped: z.boolean() }) },
  /** Reads a PDF or a folder in the main process and makes it the chat's document context. */
  'doc:open': { request: z.object({ chatId: id, path, kind: z.enum(['pdf', 'folder']) }).strict(), response: Chat },
  /** A native file dialog (Electron only; browser mode answers UNSUPPORTED and takes a typed path). */
  'doc:pick': { request: z.object({ kind: z.enum(['pdf', 'folder']) }).strict(), response: z.object({ path: z.string().nullable() }) },
} satisfies Record<RequestChannel, { request: z.ZodType; response: z.ZodType }>;

export const events = {
  'model:status': ModelStatus,
  'chat:delta': z.object({ chatId: id, messageId: id, text: z.string() }),
  'doc:progress': z.object({ chatId: id, done: count, total: count, source: z.string() }),
} satisfies Record<EventChannel, z.ZodType>;

// Both lists must name exactly the channels of channels.ts (a missing or extra key fails here).
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const requestKeysMatch: Exact<keyof typeof requests, RequestChannel> = true;
const eventKeysMatch: Exact<keyof typeof events, EventChannel> = true;
void requestKeysMatch;
void eventKeysMatch;

export type Request<C extends RequestChannel> = z.infer<(typeof requests)[C]['request']>;
export type Response<C extends RequestChannel> = z.infer<(typeof requests)[C]['response']>;
export type EventPayload<E extends EventChannel> = z.infer<(typeof events)[E]>;

export type ModelStatus = z.infer<typeof ModelStatus>;
export type AnswerStats = z.infer<typeof AnswerStats>;
export type Message = z.infer<typeof Message>;
export type DocumentSet = z.infer<typeof DocumentSet>;
export type Chat = z.infer<typeof Chat>;
export type ChatSummary = z.infer<typeof ChatSummary>;

/** Errors cross IPC as data: Electron keeps only the message of a thrown error. */
export type Result<T> = { ok: true; data: T } | { ok: false; code: string; message: string };

export type Handlers = { [C in RequestChannel]: (request: Request<C>) => Promise<Response<C>> };

export type { EventChannel, RequestChannel } from './channels.ts';
