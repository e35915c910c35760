// The renderer's only door to the main process: one verb per contract channel and subscriptions to
// contract events. ipcRenderer itself never reaches the page. Bundled to build/electron/preload.cjs
// (a sandboxed preload cannot import modules).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

import { EVENT_CHANNELS, REQUEST_CHANNELS } from '../ipc/channels.ts';
import type { RequestVerbs, SqueezeApi } from '../ipc/preload-api.ts';

const requests = Object.fromEntries(REQUEST_CHANNELS.map((channel) => [channel, (request: unknown) => ipcRenderer.invoke(channel, request)])) as RequestVerbs;
const events: ReadonlySet<string> = new Set(EVENT_CHANNELS);

const api: SqueezeApi = {
  requests,
  on(event, listener) {
    if (!events.has(event)) return () => {};
    const forward = (_e: IpcRendererEvent, payload: unknown) => listener(payload as never);
    ipcRenderer.on(event, forward);
    return () => void ipcRenderer.removeListener(event, forward);
  },
};

contextBridge.exposeInMainWorld('squeeze', api);
