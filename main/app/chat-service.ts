// Conversations: stored chats, their documents (the fixed context, given to the model as the system
// message with plain dense attention for now) and answering, one answer at a time.
import * as fsp from 'node:fs/promises';
import path from 'node:path';

import { buildFixedContext, openDocuments, type FolderResult } from '../docs/index.ts';
import type { ChatMessage } from '../engine/chat-template.ts';
import type { GenerateResult } from '../engine/engine.ts';
import type { Chat, DocumentSet, EventPayload, Message } from '../ipc/contract.ts';
import { AppError } from '../ipc/router.ts';
import { ChatStore, newId, type StoredChat } from './chat-store.ts';
import type { ModelService } from './model-service.ts';

/** Tokens kept free beside the documents for the question, the conversation and the answer. */
const RESERVE_TOKENS = 1024;
const DEFAULT_MAX_TOKENS = 512;
// Greedy decoding with a light repetition penalty: small models (SmolLM2-135M) otherwise loop on a
// phrase until the length limit ("about a report about a report ..."); 1.1 over the last 64 tokens
// ends the report.pdf answer at EOG after ~70 tokens instead.
const SAMPLING = { temperature: 0, repeatPenalty: 1.1, repeatLastN: 64 };
const TITLE_CHARS = 60;

const DOCUMENT_INSTRUCTION = 'Answer the questions using the documents below. Name the page you used.\n\n';

export interface ChatServiceOptions {
  store: ChatStore;
  models: ModelService;
  onDelta: (delta: EventPayload<'chat:delta'>) => void;
  onProgress: (progress: EventPayload<'doc:progress'>) => void;
  /** answer length limit when a request gives none */
  maxTokens?: number;
}

function toWire(chat: StoredChat): Chat {
  const { context: _context, ...wire } = chat;
  return wire;
}

export class ChatService {
  private readonly cache = new Map<string, StoredChat>();
  private generating?: { chatId: string; controller: AbortController };

  constructor(private readonly options: ChatServiceOptions) {}

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
    if (this.generating?.chatId === chatId) throw new AppError('BUSY', 'This chat is answering; stop it before deleting it.');
    this.cache.delete(chatId);
    return this.options.store.remove(chatId);
  }

  stop(chatId: string): boolean {
    if (this.generating?.chatId !== chatId) return false;
    this.generating.controller.abort();
    return true;
  }

  async send(chatId: string, text: string, maxTokens = this.options.maxTokens ?? DEFAULT_MAX_TOKENS): Promise<Chat> {
    const { model, session, contextSize } = this.options.models.ready();
    if (this.generating || this.options.models.busy) throw new AppError('BUSY', 'An answer is still being written: stop it or wait for it.');
    // Claimed before the first await, so a second request in the same tick sees BUSY.
    const controller = new AbortController();
    this.generating = { chatId, controller };
    this.options.models.busy = true;
    try {
      const chat = await this.stored(chatId);
      chat.messages.push({ id: newId(), role: 'user', content: text.trim() });
      if (chat.messages.length === 1 && !chat.documents) chat.title = text.trim().slice(0, TITLE_CHARS);
      chat.updatedAt = Date.now();
      await this.save(chat);

      const messageId = newId();
      const result: GenerateResult = await session.generate(model.formatChat(this.conversation(chat)), {
        ...SAMPLING,
        maxTokens,
        signal: controller.signal,
        onText: (piece) => this.options.onDelta({ chatId, messageId, text: piece }),
      });
      const t = result.timings;
      const answer: Message = {
        id: messageId,
        role: 'assistant',
        content: result.text,
        stopReason: result.stopReason,
        stats: { ...t, contextUsed: Math.min(contextSize, t.nPrompt + t.nGenerated), contextSize },
      };
      chat.messages.push(answer);
      chat.updatedAt = Date.now();
      await this.save(chat);
      return toWire(chat);
    } finally {
      this.generating = undefined;
      this.options.models.busy = false;
    }
  }

  /** Reads a PDF or a folder and makes it the chat's documents, replacing any before. */
  async openDocuments(chatId: string, target: string, kind: 'pdf' | 'folder'): Promise<Chat> {
    const chat = await this.stored(chatId);
    const root = path.resolve(target);
    let stats;
    try {
      stats = await fsp.stat(root);
    } catch {
      throw new AppError('FILE_NOT_FOUND', `Nothing was found at ${root}.`);
    }
    if (kind === 'folder' && !stats.isDirectory()) throw new AppError('DOC_NOT_A_FOLDER', `${root} is not a folder: use Open PDF for a single file.`);
    if (kind === 'pdf' && !stats.isFile()) throw new AppError('DOC_NOT_A_FILE', `${root} is not a file: use Open folder for a folder.`);

    const read: FolderResult = await openDocuments(root, {
      onProgress: (p) => this.options.onProgress({ chatId, done: p.done, total: p.total, source: p.source }),
    });
    if (kind === 'pdf') this.options.onProgress({ chatId, done: 1, total: 1, source: path.basename(root) });
    const loaded = this.options.models.status.state === 'ready' ? this.options.models.ready() : undefined;
    const context = buildFixedContext(read.documents, {
      ...(loaded && {
        countTokens: (text: string) => loaded.model.tokenizer.encode(text, { addSpecial: false, parseSpecial: false }).length,
        contextSize: loaded.contextSize,
        reserveTokens: RESERVE_TOKENS,
      }),
    });
    if (context.fits === false) {
      throw new AppError(
        'DOC_TOO_LARGE',
        `${path.basename(root)} is ${context.tokens} tokens; with full attention the model's context holds ${loaded!.contextSize - RESERVE_TOKENS} for documents. Open fewer pages or a smaller folder.`,
      );
    }
    const documents: DocumentSet = {
      root,
      kind,
      documents: read.documents.map((d) => ({ source: d.source, pages: d.pages.length })),
      skipped: read.skipped.map((s) => ({ source: s.source, ...(s.page !== undefined && { page: s.page }), reason: s.reason })),
      ...(context.tokens !== undefined && { tokens: context.tokens }),
    };
    chat.documents = documents;
    chat.context = context.text;
    if (chat.messages.length === 0) chat.title = path.basename(root);
    chat.updatedAt = Date.now();
    await this.save(chat);
    return toWire(chat);
  }

  private conversation(chat: StoredChat): ChatMessage[] {
    const turns: ChatMessage[] = chat.messages.map((m) => ({ role: m.role, content: m.content }));
    return chat.context ? [{ role: 'system', content: DOCUMENT_INSTRUCTION + chat.context }, ...turns] : turns;
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
