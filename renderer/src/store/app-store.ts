// The app's one store and its wiring to the main process. Components select the smallest slice
// they need; events from the main process reach the store here, never through React.
import { createStore, type StoreApi } from 'zustand/vanilla';

import type { Bridge } from '../bridge.ts';
import { createChatSlice } from './chat-slice.ts';
import { createDocsSlice } from './docs-slice.ts';
import { createModelSlice } from './model-slice.ts';
import { createModelsSlice } from './models-slice.ts';
import { createDropSlice } from './drop-slice.ts';
import { createSettingsSlice } from './settings-slice.ts';
import type { AppState } from './types.ts';

export type AppStore = StoreApi<AppState>;

export function createAppStore(bridge: Bridge): AppStore {
  return createStore<AppState>()((...a) => ({
    ...createModelSlice(bridge)(...a),
    ...createChatSlice(bridge)(...a),
    ...createDocsSlice(bridge)(...a),
    ...createSettingsSlice(bridge)(...a),
    ...createModelsSlice(bridge)(...a),
    ...createDropSlice(bridge)(...a),
  }));
}

/** Subscribes the store to the main process's events; returns the function that unsubscribes. */
export function connectEvents(store: AppStore, bridge: Bridge): () => void {
  const offs = [
    bridge.on('model:status', (status) => store.getState().setModelStatus(status)),
    bridge.on('chat:delta', (delta) => store.getState().appendDelta(delta)),
    bridge.on('doc:progress', (progress) => store.getState().setProgress(progress)),
    bridge.on('model:download-progress', (progress) => store.getState().setDownloadProgress(progress)),
    bridge.on('app:command', ({ command }) => void store.getState().pickDocuments(command === 'open-pdf' ? 'pdf' : 'folder')),
  ];
  return () => offs.forEach((off) => off());
}

/** First state after a (re)load: the model's status and the most recent chat. */
export async function startApp(store: AppStore): Promise<void> {
  const state = store.getState();
  await Promise.all([state.refreshModel(), state.listChats(), state.loadSettings(), state.listModels()]);
  const recent = store.getState().chats[0];
  if (recent) await state.openChat(recent.id);
  if (store.getState().model.state === 'none') await state.loadModel();
}
