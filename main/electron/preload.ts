// The renderer's only door to the main process: one verb per contract channel, subscriptions to
// contract events, and the path of a dropped file. ipcRenderer itself never reaches the page.
// Bundled to build/electron/preload.cjs (a sandboxed preload cannot import modules).
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';

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
  // Since Electron 32 File.path is gone; webUtils is the supported way, and only a preload has it.
  pathForFile: (file) => webUtils.getPathForFile(file),
};

contextBridge.exposeInMainWorld('squeeze', api);
