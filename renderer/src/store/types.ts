// The store's shape: one zustand store made of typed slices, each with its actions beside its state.
import type { StateCreator } from 'zustand/vanilla';

import type { Chat, ChatSummary, EventPayload, ModelStatus } from '../../../main/ipc/contract.ts';

/** An error as the user sees it: a stable code and a sentence they can act on. */
export interface UiError {
  code: string;
  message: string;
}

export interface ModelSlice {
  model: ModelStatus;
  setModelStatus(status: ModelStatus): void;
  refreshModel(): Promise<void>;
  loadModel(path?: string): Promise<void>;
}

/** The answer being written: the question and the text streamed so far. */
export interface PendingAnswer {
  chatId: string;
  question: string;
  text: string;
  stopping: boolean;
}

export interface ChatSlice {
  chats: ChatSummary[];
  current?: Chat;
  pending?: PendingAnswer;
  chatError?: UiError;
  listChats(): Promise<void>;
  openChat(chatId: string): Promise<void>;
  newChat(): Promise<Chat | undefined>;
  send(text: string): Promise<void>;
  stop(): Promise<void>;
  appendDelta(delta: EventPayload<'chat:delta'>): void;
}

export interface DocsSlice {
  /** Electron shows native file dialogs; browser mode takes a typed path */
  canPickFiles: boolean;
  opening: boolean;
  progress?: EventPayload<'doc:progress'>;
  docError?: UiError;
  openDocuments(path: string, kind: 'pdf' | 'folder'): Promise<void>;
  pickDocuments(kind: 'pdf' | 'folder'): Promise<void>;
  setProgress(progress: EventPayload<'doc:progress'>): void;
}

export type AppState = ModelSlice & ChatSlice & DocsSlice;

export type Slice<T> = StateCreator<AppState, [], [], T>;
