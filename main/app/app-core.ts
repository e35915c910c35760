// The main-process core both shells share (Electron and browser mode): services behind the IPC
// contract's handlers, with events going out through whatever transport the shell provides.
import type { EventChannel, EventPayload, Handlers } from '../ipc/contract.ts';
import { AppError } from '../ipc/router.ts';
import { ChatService } from './chat-service.ts';
import { ChatStore } from './chat-store.ts';
import { ModelService } from './model-service.ts';

export type Emit = <E extends EventChannel>(event: E, payload: EventPayload<E>) => void;

export interface AppCoreOptions {
  dataDir: string;
  emit: Emit;
  /** the shell's native file dialog; absent in browser mode */
  pickPath?: (kind: 'pdf' | 'folder') => Promise<string | null>;
  threads?: number;
  contextSize?: number;
  /** answer length limit when a request gives none */
  maxTokens?: number;
}

export interface AppCore {
  handlers: Handlers;
  models: ModelService;
  chats: ChatService;
}

export function createAppCore(options: AppCoreOptions): AppCore {
  const models = new ModelService({
    onStatus: (status) => options.emit('model:status', status),
    threads: options.threads,
    contextSize: options.contextSize,
  });
  const chats = new ChatService({
    store: new ChatStore(options.dataDir),
    models,
    onDelta: (delta) => options.emit('chat:delta', delta),
    onProgress: (progress) => options.emit('doc:progress', progress),
    maxTokens: options.maxTokens,
  });
  const handlers: Handlers = {
    'model:load': ({ path }) => models.load(path),
    'model:info': async () => models.status,
    'chat:list': async () => ({ chats: (await chats.list()).map(({ id, title, updatedAt }) => ({ id, title, updatedAt })) }),
    'chat:get': ({ chatId }) => chats.get(chatId),
    'chat:new': () => chats.create(),
    'chat:delete': async ({ chatId }) => ({ deleted: await chats.remove(chatId) }),
    'chat:send': async ({ chatId, text, maxTokens }) => ({ chat: await chats.send(chatId, text, maxTokens) }),
    'chat:stop': async ({ chatId }) => ({ stopped: chats.stop(chatId) }),
    'doc:open': ({ chatId, path, kind }) => chats.openDocuments(chatId, path, kind),
    'doc:pick': async ({ kind }) => {
      if (!options.pickPath) throw new AppError('UNSUPPORTED', 'This window cannot show a file dialog: type the path instead.');
      return { path: await options.pickPath(kind) };
    },
  };
  return { handlers, models, chats };
}
