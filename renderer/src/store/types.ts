// The store's shape: one zustand store made of typed slices, each with its actions beside its state.
import type { StateCreator } from 'zustand/vanilla';

import type { Chat, ChatSummary, EventPayload, ModelStatus, Response, Settings, SystemInfo } from '../../../main/ipc/contract.ts';
import type { DropSlice } from './drop-slice.ts';
import type { ModelsSlice } from './models-slice.ts';

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
  /** regenerate and edit: the stored message from which on the conversation is being rewritten */
  replacesFrom?: string;
}

export interface ChatSlice {
  chats: ChatSummary[];
  current?: Chat;
  pending?: PendingAnswer;
  chatError?: UiError;
  listChats(): Promise<void>;
  openChat(chatId: string): Promise<void>;
  newChat(): Promise<Chat | undefined>;
  /** false when the question was refused (the caller keeps its text) */
  send(text: string): Promise<boolean>;
  /** writes the last answer again; attention 'dense' = "Answer again with full attention" */
  regenerate(attention?: 'squeezed' | 'dense'): Promise<boolean>;
  /** replaces a question, drops what followed it, and answers the new text */
  edit(messageId: string, text: string): Promise<boolean>;
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
  /** stops reading the documents or building their pack */
  cancelOpening(): Promise<void>;
  /** the cited page being read, if any */
  page?: Response<'doc:page'>;
  pageError?: UiError;
  showPage(source: string, page: number): Promise<void>;
  closePage(): void;
}

export interface SettingsSlice {
  settings?: Settings;
  system?: SystemInfo;
  settingsError?: UiError;
  loadSettings(): Promise<void>;
  updateSettings(change: Partial<Settings>): Promise<void>;
}

export type AppState = ModelSlice & ChatSlice & DocsSlice & SettingsSlice & ModelsSlice & DropSlice;

export type Slice<T> = StateCreator<AppState, [], [], T>;
