// Conversations: stored chats, their documents and answering, one thing at a time. A chat with
// documents answers through its document pack (DocChat: Squeezed Attention over the fixed context,
// earlier turns reused from the KV cache); a chat without documents is plain generation.
import * as fsp from 'node:fs/promises';
import path from 'node:path';

import { buildFixedContext, openDocuments, type FixedContext, type FolderResult } from '../docs/index.ts';
import type { AskMode, AskResult, DocChat } from '../engine/doc-chat.ts';
import type { ChatMessage } from '../engine/chat-template.ts';
import type { AnswerStats, Chat, DocumentSet, EventPayload, Message } from '../ipc/contract.ts';
import { AppError } from '../ipc/router.ts';
import { ChatStore, newId, type StoredChat } from './chat-store.ts';
import { DocPacks, packStatus } from './doc-packs.ts';
import type { LoadedModel, ModelService } from './model-service.ts';
import type { SettingsStore } from './settings-store.ts';

/** Tokens kept free beside the documents for the conversation and the answers. */
const RESERVE_TOKENS = 1024;
const DEFAULT_MAX_TOKENS = 512;
/** Citations shown under an answer. */
const TOP_CITATIONS = 3;
// Greedy decoding with a light repetition penalty: small models (SmolLM2-135M) otherwise loop on a
// phrase until the length limit ("about a report about a report ..."); 1.1 over the last 64 tokens
// ends the report.pdf answer at EOG after ~70 tokens instead.
const SAMPLING = { temperature: 0, repeatPenalty: 1.1, repeatLastN: 64 };
const TITLE_CHARS = 60;

export type Attention = NonNullable<AnswerStats['attention']>;

export interface ChatServiceOptions {
  store: ChatStore;
  models: ModelService;
  settings: SettingsStore;
  onDelta: (delta: EventPayload<'chat:delta'>) => void;
  onProgress: (progress: EventPayload<'doc:progress'>) => void;
  /** answer length limit when a request gives none */
  maxTokens?: number;
  /** where document packs are kept (default: DocChat's, ~/.cache/squeeze/packs) */
  packDir?: string;
}

interface AnswerOptions {
  maxTokens?: number;
  attention?: Attention;
}

function toWire(chat: StoredChat): Chat {
  const { context: _context, spans: _spans, ...wire } = chat;
  return wire;
}

function fixedContext(chat: StoredChat): FixedContext | undefined {
  if (chat.context === undefined) return undefined;
  return { text: chat.context, spans: chat.spans ?? [], ...(chat.documents?.tokens !== undefined && { tokens: chat.documents.tokens }) };
}

export class ChatService {
  private readonly cache = new Map<string, StoredChat>();
  private readonly packs: DocPacks;
  /** the one thing the engine is doing: writing an answer or processing documents */
  private activity?: { kind: 'answer' | 'documents'; chatId: string; controller: AbortController };

  constructor(private readonly options: ChatServiceOptions) {
    this.packs = new DocPacks(options.packDir);
  }

  async list(): Promise<Chat[]> {
    const chats = await this.options.store.list();
    for (const c of chats) if (!this.cache.has(c.id)) this.cache.set(c.id, c);
    return [...this.cache.values()].sort((a, b) => b.updatedAt - a.updatedAt).map(toWire);
  }

  async get(chatId: string): Promise<Chat> {
    return toWire(await this.stored(chatId));
  }

  async create(): Promise<Chat> {
    const now = Date.now();
    const chat: StoredChat = { id: newId(), title: 'New chat', createdAt: now, updatedAt: now, messages: [] };
    await this.save(chat);
    return toWire(chat);
  }

  async remove(chatId: string): Promise<boolean> {
    if (this.activity?.chatId === chatId) throw new AppError('BUSY', 'This chat is busy; stop it before deleting it.');
    this.cache.delete(chatId);
    this.packs.forget(chatId);
    return this.options.store.remove(chatId);
  }

  /** Stops the chat's answer (or the pack build its question started). */
  stop(chatId: string): boolean {
    if (this.activity?.kind !== 'answer' || this.activity.chatId !== chatId) return false;
    this.activity.controller.abort();
    this.packs.cancel(chatId);
    return true;
  }

  /** Stops reading the chat's documents or building their pack. */
  cancelDocuments(chatId: string): boolean {
    if (this.activity?.kind !== 'documents' || this.activity.chatId !== chatId) return false;
    this.activity.controller.abort();
    this.packs.cancel(chatId);
    return true;
  }

  send(chatId: string, text: string, maxTokens?: number): Promise<Chat> {
    return this.answer(chatId, { maxTokens }, (chat) => {
      chat.messages.push({ id: newId(), role: 'user', content: text.trim() });
      if (chat.messages.length === 1 && !chat.documents) chat.title = text.trim().slice(0, TITLE_CHARS);
    });
  }

  /** Writes the last answer again (with `attention`, else the settings'), replacing it. */
  regenerate(chatId: string, options: AnswerOptions = {}): Promise<Chat> {
    return this.answer(chatId, options, (chat) => {
      const [question, answer] = chat.messages.slice(-2);
      if (answer?.role !== 'assistant' || question?.role !== 'user') throw new AppError('NOTHING_TO_REGENERATE', 'There is no answer to write again yet.');
      chat.messages.pop();
    });
  }

  /** Replaces question `messageId` with `text`, drops every message after it, and answers it. */
  edit(chatId: string, messageId: string, text: string, maxTokens?: number): Promise<Chat> {
    return this.answer(chatId, { maxTokens }, (chat) => {
      const index = chat.messages.findIndex((m) => m.id === messageId);
      if (index < 0) throw new AppError('MESSAGE_NOT_FOUND', 'That message is no longer in this chat.');
      if (chat.messages[index].role !== 'user') throw new AppError('NOT_A_QUESTION', 'Only your own questions can be edited.');
      chat.messages.splice(index, chat.messages.length - index, { id: newId(), role: 'user', content: text.trim() });
    });
  }

  /** The text of one page of the chat's documents, as the model read it. */
  async pageText(chatId: string, source: string, page: number): Promise<{ source: string; page: number; lines?: [number, number]; text: string }> {
    const chat = await this.stored(chatId);
    const span = chat.spans?.find((s) => s.source === source && s.page === page);
    if (!span || chat.context === undefined) throw new AppError('PAGE_NOT_FOUND', `${source} has no page ${page} in this chat's documents.`);
    const element = chat.context.slice(span.start, span.end);
    const text = element.slice(element.indexOf('\n') + 1, element.lastIndexOf('\n</page>'));
    return { source, page, ...(span.lines && { lines: span.lines }), text };
  }

  /** Reads a PDF or a folder, builds (or loads) its pack, and makes it the chat's documents. */
  async openDocuments(chatId: string, target: string, kind: 'pdf' | 'folder'): Promise<Chat> {
    const controller = this.claim('documents', chatId);
    try {
      const chat = await this.stored(chatId);
      const root = await checkTarget(target, kind);
      const read: FolderResult = await openDocuments(root, {
        onProgress: (p) => this.options.onProgress({ chatId, phase: 'read', done: p.done, total: p.total, source: p.source }),
      });
      if (controller.signal.aborted) throw new AppError('DOC_CANCELLED', 'Reading the documents was cancelled.');
      if (kind === 'pdf') this.options.onProgress({ chatId, phase: 'read', done: 1, total: 1, source: path.basename(root) });
      const loaded = this.options.models.status.state === 'ready' ? this.options.models.ready() : undefined;
      const context = buildFixedContext(read.documents, {
        ...(loaded && {
          countTokens: (text: string) => loaded.model.tokenizer.encode(text, { addSpecial: false, parseSpecial: false }).length,
          contextSize: loaded.contextSize,
          reserveTokens: RESERVE_TOKENS,
        }),
      });
      if (context.fits === false) throw tooLarge(path.basename(root), context, loaded!.contextSize);
      const documents: DocumentSet = {
        root,
        kind,
        documents: read.documents.map((d) => ({ source: d.source, pages: d.pages.length })),
        skipped: read.skipped.map((s) => ({ source: s.source, ...(s.page !== undefined && { page: s.page }), reason: s.reason })),
        ...(context.tokens !== undefined && { tokens: context.tokens }),
      };
      // Without a model the pack is built at the first question.
      if (loaded) {
        const docChat = await this.docChat(chatId, loaded, context, path.basename(root));
        documents.pack = packStatus(docChat.pack, loaded.contextSize);
      }
      chat.documents = documents;
      chat.context = context.text;
      chat.spans = context.spans;
      if (chat.messages.length === 0) chat.title = path.basename(root);
      chat.updatedAt = Date.now();
      await this.save(chat);
      return toWire(chat);
    } finally {
      this.release();
    }
  }

  /**
   * One answer: `prepare` leaves the question last in the chat's messages (and may drop later ones);
   * the chat is saved before the engine starts. When no answer comes (an error), the chat is put
   * back as it was, so nothing the user had is lost.
   */
  private async answer(chatId: string, options: AnswerOptions, prepare: (chat: StoredChat) => void): Promise<Chat> {
    const loaded = this.options.models.ready();
    const controller = this.claim('answer', chatId);
    try {
      const chat = await this.stored(chatId);
      const before = structuredClone(chat);
      prepare(chat);
      chat.updatedAt = Date.now();
      await this.save(chat);
      let answer: Message;
      try {
        const context = fixedContext(chat);
        answer = context
          ? await this.answerFromDocuments(chat, loaded, context, options, controller.signal)
          : await this.answerPlain(chat, loaded, options, controller.signal);
      } catch (e) {
        await this.save(before);
        throw e;
      }
      chat.messages.push(answer);
      chat.updatedAt = Date.now();
      await this.save(chat);
      return toWire(chat);
    } finally {
      this.release();
    }
  }

  private async answerFromDocuments(chat: StoredChat, loaded: LoadedModel, context: FixedContext, options: AnswerOptions, signal: AbortSignal): Promise<Message> {
    const docChat = await this.docChat(chat.id, loaded, context, chat.documents ? path.basename(chat.documents.root) : 'documents');
    if (chat.documents && !chat.documents.pack) chat.documents.pack = packStatus(docChat.pack, loaded.contextSize);
    if (signal.aborted) throw new AppError('CANCELLED', 'Stopped before the answer began.');
    const settings = await this.options.settings.get();
    const attention = options.attention ?? settings.attention;
    const mode: AskMode = attention === 'dense' ? { kind: 'dense' } : { kind: 'sparsity', sparsity: settings.sparsity };
    const messageId = newId();
    const turns = chat.messages.map(({ role, content }): ChatMessage => ({ role, content }));
    const question = turns.pop()!;
    let result: AskResult;
    try {
      result = await docChat.ask(question.content, {
        ...SAMPLING,
        mode,
        history: turns,
        maxTokens: options.maxTokens ?? this.options.maxTokens ?? DEFAULT_MAX_TOKENS,
        signal,
        onText: (text) => this.options.onDelta({ chatId: chat.id, messageId, text }),
      });
    } catch (e) {
      if ((e as { code?: unknown }).code === 'CONTEXT_FULL') throw contextFull(e as Error);
      throw e;
    }
    const citations = result.citations.slice(0, TOP_CITATIONS);
    return {
      id: messageId,
      role: 'assistant',
      content: result.answer,
      stopReason: result.stopReason as Message['stopReason'],
      stats: documentAnswerStats(result, attention, loaded.contextSize),
      ...(citations.length > 0 && { citations }),
    };
  }

  private async answerPlain(chat: StoredChat, loaded: LoadedModel, options: AnswerOptions, signal: AbortSignal): Promise<Message> {
    const { model, session, contextSize } = loaded;
    const messageId = newId();
    const turns = chat.messages.map(({ role, content }): ChatMessage => ({ role, content }));
    const result = await session.generate(model.formatChat(turns), {
      ...SAMPLING,
      maxTokens: options.maxTokens ?? this.options.maxTokens ?? DEFAULT_MAX_TOKENS,
      signal,
      onText: (piece) => this.options.onDelta({ chatId: chat.id, messageId, text: piece }),
    });
    const t = result.timings;
    return {
      id: messageId,
      role: 'assistant',
      content: result.text,
      stopReason: result.stopReason,
      stats: { ...t, contextUsed: Math.min(contextSize, t.nPrompt + t.nGenerated), contextSize },
    };
  }

  private async docChat(chatId: string, loaded: LoadedModel, context: FixedContext, source: string): Promise<DocChat> {
    const settings = await this.options.settings.get();
    return this.packs.get(chatId, loaded.model, context, {
      contextSize: loaded.contextSize,
      threads: settings.threads,
      backend: settings.gpu ? 'auto' : 'cpu',
      onProgress: (p) => this.options.onProgress({ chatId, source, ...p }),
    });
  }

  /** Claims the engine before the first await, so a second request in the same tick sees BUSY. */
  private claim(kind: 'answer' | 'documents', chatId: string): AbortController {
    if (this.activity || this.options.models.busy) {
      const message =
        this.activity?.kind === 'documents'
          ? (this.packs.busyReason ?? 'The documents are still being read: ask again when they are ready.')
          : 'An answer is still being written: stop it or wait for it.';
      throw new AppError('BUSY', message);
    }
    const controller = new AbortController();
    this.activity = { kind, chatId, controller };
    this.options.models.busy = true;
    return controller;
  }

  private release(): void {
    this.activity = undefined;
    this.options.models.busy = false;
  }

  private async stored(chatId: string): Promise<StoredChat> {
    const cached = this.cache.get(chatId) ?? (await this.options.store.load(chatId));
    if (!cached) throw new AppError('CHAT_NOT_FOUND', 'That chat no longer exists.');
    this.cache.set(chatId, cached);
    return cached;
  }

  private async save(chat: StoredChat): Promise<void> {
    this.cache.set(chat.id, chat);
    await this.options.store.save(chat);
  }
}

async function checkTarget(target: string, kind: 'pdf' | 'folder'): Promise<string> {
  const root = path.resolve(target);
  let stats;
  try {
    stats = await fsp.stat(root);
  } catch {
    throw new AppError('FILE_NOT_FOUND', `Nothing was found at ${root}.`);
  }
  if (kind === 'folder' && !stats.isDirectory()) throw new AppError('DOC_NOT_A_FOLDER', `${root} is not a folder: use Open PDF for a single file.`);
  if (kind === 'pdf' && !stats.isFile()) throw new AppError('DOC_NOT_A_FILE', `${root} is not a file: use Open folder for a folder.`);
  return root;
}

function tooLarge(name: string, context: FixedContext, contextSize: number): AppError {
  const largest = [...(context.documents ?? [])]
    .sort((a, b) => b.tokens - a.tokens)
    .slice(0, 3)
    .map((d) => `${d.source} ${d.tokens}`)
    .join(', ');
  return new AppError(
    'DOC_TOO_LARGE',
    `${name} is ${context.tokens} tokens; the model's context holds ${contextSize}, of which ${contextSize - RESERVE_TOKENS} can be documents (${RESERVE_TOKENS} stay free for the conversation). ` +
      `Largest: ${largest}. Open fewer pages or a smaller folder.`,
  );
}

function contextFull(e: Error): AppError {
  return new AppError('CONTEXT_FULL', `This conversation no longer fits the model's context (${e.message}). Start a new chat on the same documents, or edit an earlier question.`);
}

function documentAnswerStats(r: AskResult, attention: Attention, contextSize: number): AnswerStats {
  const t = r.timings;
  const s = r.stats;
  const nPrompt = t.prefillTokens + t.reusedTokens;
  return {
    nPrompt,
    nPromptReused: t.reusedTokens,
    nGenerated: t.generated,
    prefillMs: t.prefillMs,
    decodeMs: t.decodeMs,
    prefillTokensPerSecond: t.prefillTokensPerSecond,
    decodeTokensPerSecond: t.decodeTokensPerSecond,
    contextUsed: Math.min(contextSize, nPrompt + t.generated),
    contextSize,
    attention,
    ...(attention === 'squeezed' && {
      squeeze: {
        ...(s.target !== undefined && { target: s.target }),
        sparsity: s.sparsity,
        fixedTokens: s.fixedTokens,
        clustersPerLevel: s.clustersPerLevel,
        keysPerHead: s.keysPerHead,
        bytesRead: s.bytesRead,
        bytesDense: s.bytesDense,
        lookupMs: s.lookupMs,
        attentionMs: s.attentionMs,
        fixedAttentionMs: s.fixedAttentionMs,
        dynamicAttentionMs: s.dynamicAttentionMs,
        mergeMs: s.mergeMs,
        otherMs: s.otherMs,
      },
    }),
  };
}
