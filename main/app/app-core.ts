// The main-process core both shells share (Electron and browser mode): services behind the IPC
// contract's handlers, with events going out through whatever transport the shell provides.
import path from 'node:path';

import type { EventChannel, EventPayload, Handlers } from '../ipc/contract.ts';
import { AppError } from '../ipc/router.ts';
import { ChatService } from './chat-service.ts';
import { ChatStore } from './chat-store.ts';
import { ModelManager } from '../models/model-manager.ts';
import { openModelFile } from '../models/inspect.ts';
import { ModelService, modelManagerHandlers } from './model-service.ts';
import { SettingsStore } from './settings-store.ts';

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
  /** where document packs are kept (default: ~/.cache/squeeze/packs) */
  packDir?: string;
}

export interface AppCore {
  handlers: Handlers;
  models: ModelService;
  chats: ChatService;
  settings: SettingsStore;
}

export function createAppCore(options: AppCoreOptions): AppCore {
  const manager = new ModelManager({
    modelsDir: path.join(options.dataDir, 'models'),
    onProgress: (progress) => options.emit('model:download-progress', progress),
    validate: async (file) => void (await openModelFile(file)),
  });
  const models = new ModelService({
    defaultModelPath: () => manager.defaultModelPath(),
    onStatus: (status) => options.emit('model:status', status),
    threads: options.threads,
    contextSize: options.contextSize,
    sessionSettings: () => settings.get(),
  });
  const settings = new SettingsStore(options.dataDir);
  const chats = new ChatService({
    store: new ChatStore(options.dataDir),
    models,
    settings,
    packDir: options.packDir,
    onDelta: (delta) => options.emit('chat:delta', delta),
    onProgress: (progress) => options.emit('doc:progress', progress),
    maxTokens: options.maxTokens,
  });
  const handlers: Handlers = {
    'model:load': ({ path }) => models.load(path),
    'model:info': async () => models.status,
    ...modelManagerHandlers(manager),
    'chat:list': async () => ({ chats: (await chats.list()).map(({ id, title, updatedAt }) => ({ id, title, updatedAt })) }),
    'chat:get': ({ chatId }) => chats.get(chatId),
    'chat:new': () => chats.create(),
    'chat:delete': async ({ chatId }) => ({ deleted: await chats.remove(chatId) }),
    'chat:send': async ({ chatId, text, maxTokens }) => ({ chat: await chats.send(chatId, text, maxTokens) }),
    'chat:stop': async ({ chatId }) => ({ stopped: chats.stop(chatId) }),
    'chat:regenerate': async ({ chatId, attention, maxTokens }) => ({ chat: await chats.regenerate(chatId, { attention, maxTokens }) }),
    'chat:edit': async ({ chatId, messageId, text, maxTokens }) => ({ chat: await chats.edit(chatId, messageId, text, maxTokens) }),
    'doc:open': ({ chatId, path, kind }) => chats.openDocuments(chatId, path, kind),
    'doc:cancel': async ({ chatId }) => ({ cancelled: chats.cancelDocuments(chatId) }),
    'doc:page': ({ chatId, source, page }) => chats.pageText(chatId, source, page),
    'settings:get': async () => ({ settings: await settings.get(), system: settings.systemInfo }),
    'settings:set': async (change) => {
      const updated = await settings.update(change);
      if (change.threads !== undefined || change.gpu !== undefined) await models.applySettings();
      return { settings: updated, system: settings.systemInfo };
    },
    'doc:pick': async ({ kind }) => {
      if (!options.pickPath) throw new AppError('UNSUPPORTED', 'This window cannot show a file dialog: type the path instead.');
      return { path: await options.pickPath(kind) };
    },
  };
  return { handlers, models, chats, settings };
}
