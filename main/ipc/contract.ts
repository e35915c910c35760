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
  /** where plain chats run: "cpu" or the GPU's name */
  device: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

/** A model the manager knows: a catalog entry (id set; path null until downloaded) or a local file. */
export const ModelEntry = z.object({ id: id.optional(), name: z.string(), file: z.string(), path: z.string().nullable(), bytes: count.optional() });

const sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'a sha256 is 64 hexadecimal digits');

/** A URL (checked by the manager, which names what is wrong) or a catalog model by id. */
export const DownloadSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('url'), url: z.string().min(1).max(4096), sha256: sha256.optional() }).strict(),
  z.object({ kind: z.literal('known'), modelId: id }).strict(),
]);

/** Squeezed Attention's measurements for one answer (absent when attention was dense). */
export const SqueezeStats = z.object({
  /** the calibrated sparsity target used */
  target: z.number().optional(),
  /** achieved: share of document keys not read */
  sparsity: z.number(),
  fixedTokens: count,
  clustersPerLevel: z.array(count),
  /** [layer][KV head] mean document keys attended per lookup */
  keysPerHead: z.array(z.array(z.number().nonnegative())),
  bytesRead: z.number().nonnegative(),
  bytesDense: z.number().nonnegative(),
  lookupMs: ms,
  /** the three parts below together (answers stored before the split have only this) */
  attentionMs: ms,
  /** exact attention over the selected document keys */
  fixedAttentionMs: ms.optional(),
  /** exact attention over the conversation's own tokens */
  dynamicAttentionMs: ms.optional(),
  /** joining the two (log-sum-exp merge) */
  mergeMs: ms.optional(),
  otherMs: ms,
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
  /** how the documents were attended: squeezed (with `squeeze`) or dense; absent without documents */
  attention: z.enum(['squeezed', 'dense']).optional(),
  squeeze: SqueezeStats.optional(),
});

/** A page the answer drew on, from the attention mass its tokens received. */
export const Citation = z.object({ source: z.string(), page: count, lines: z.tuple([count, count]).optional(), share: z.number() });

export const Message = z.object({
  id,
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  stats: AnswerStats.optional(),
  stopReason: z.enum(['eog', 'max_tokens', 'cancelled', 'context_full', 'stop_string']).optional(),
  citations: z.array(Citation).optional(),
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
  /** the document pack the answers attend to (DESIGN.md §3) */
  pack: z
    .object({
      /** built now, or loaded from disk */
      state: z.enum(['built', 'loaded']),
      bytes: count,
      /** tokens of the fixed context (instructions + documents) against the model's context */
      fixedTokens: count,
      contextSize: count,
      buildMs: ms.optional(),
      loadMs: ms.optional(),
      /** the sparsities the pack is calibrated for, as the engine read them (the settings' sparsity uses the nearest) */
      sparsities: z.array(z.number().gt(0).lt(1)).optional(),
      /** per-layer thresholds are stored too */
      perLayerThresholds: z.boolean().optional(),
    })
    .optional(),
});

export const Settings = z.object({
  attention: z.enum(['squeezed', 'dense']),
  /** document keys to skip; each answer uses the nearest sparsity its pack is calibrated for */
  sparsity: z.number().gt(0).lt(1),
  threads: z.number().int().min(1).max(256),
  gpu: z.boolean(),
});

/** What this machine offers, for the settings the user can change. */
export const SystemInfo = z.object({
  hardwareThreads: count,
  gpu: z.object({ available: z.boolean(), reason: z.string().optional(), device: z.string().optional() }),
  /** the sparsities the engine calibrates new packs for (a chat's pack reports its own) */
  sparsities: z.array(z.number().gt(0).lt(1)).optional(),
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
const maxTokens = z.number().int().min(1).max(4096).optional();
const question = z.string().trim().min(1).max(20_000);

export const requests = {
  'model:load': { request: z.object({ path: path.optional() }).strict(), response: ModelStatus },
  'model:info': { request: empty, response: ModelStatus },
  'model:list': { request: empty, response: z.object({ modelsDir: z.string(), models: z.array(ModelEntry) }) },
  /** Resolves when the file is downloaded, checked and in place; progress arrives as 'model:download-progress'. */
  'model:download': { request: z.object({ downloadId: id, source: DownloadSource }).strict(), response: z.object({ path: z.string(), sha256, bytes: count }) },
  'model:cancel-download': { request: z.object({ downloadId: id }).strict(), response: z.object({ cancelled: z.boolean() }) },
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
  /** Stops building a chat's document pack; the chat keeps the documents it had before. */
  'doc:cancel': { request: chatRef, response: z.object({ cancelled: z.boolean() }) },
  /** The text of one page of a chat's documents (what a citation points at). */
  'doc:page': {
    request: z.object({ chatId: id, source: z.string().min(1).max(4096), page: z.number().int().min(1) }).strict(),
    response: z.object({ source: z.string(), page: count, lines: z.tuple([count, count]).optional(), text: z.string() }),
  },
  /** Replaces the last answer with a new one (optionally with dense attention). */
  'chat:regenerate': {
    request: z.object({ chatId: id, attention: z.enum(['squeezed', 'dense']).optional(), maxTokens }).strict(),
    response: z.object({ chat: Chat }),
  },
  /** Replaces a question with new text, drops every later message, and answers it. */
  'chat:edit': { request: z.object({ chatId: id, messageId: id, text: question, maxTokens }).strict(), response: z.object({ chat: Chat }) },
  'settings:get': { request: empty, response: z.object({ settings: Settings, system: SystemInfo }) },
  'settings:set': { request: Settings.partial().strict(), response: z.object({ settings: Settings, system: SystemInfo }) },
} satisfies Record<RequestChannel, { request: z.ZodType; response: z.ZodType }>;

export const events = {
  'model:status': ModelStatus,
  'model:download-progress': z.object({ downloadId: id, phase: z.enum(['downloading', 'extracting', 'checking']), received: count, total: count.nullable() }),
  /** A menu item of the Electron shell that the renderer carries out (it knows the current chat). */
  'app:command': z.object({ command: z.enum(['open-pdf', 'open-folder']) }),
  'chat:delta': z.object({ chatId: id, messageId: id, text: z.string() }),
  /** phase 'read' names a file in `source`; the pack phases count tokens, clusters or steps */
  'doc:progress': z.object({
    chatId: id,
    done: count,
    total: count,
    source: z.string(),
    phase: z.enum(['read', 'prefill', 'cluster', 'calibrate']).optional(),
    /** time left in this phase at the rate measured so far */
    etaMs: ms.optional(),
  }),
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
export type ModelEntry = z.infer<typeof ModelEntry>;
export type DownloadSource = z.infer<typeof DownloadSource>;
export type AnswerStats = z.infer<typeof AnswerStats>;
export type Message = z.infer<typeof Message>;
export type DocumentSet = z.infer<typeof DocumentSet>;
export type Chat = z.infer<typeof Chat>;
export type ChatSummary = z.infer<typeof ChatSummary>;
export type SqueezeStats = z.infer<typeof SqueezeStats>;
export type Citation = z.infer<typeof Citation>;
export type Settings = z.infer<typeof Settings>;
export type SystemInfo = z.infer<typeof SystemInfo>;

/** Errors cross IPC as data: Electron keeps only the message of a thrown error. */
export type Result<T> = { ok: true; data: T } | { ok: false; code: string; message: string };

export type Handlers = { [C in RequestChannel]: (request: Request<C>) => Promise<Response<C>> };

export type { EventChannel, RequestChannel } from './channels.ts';
