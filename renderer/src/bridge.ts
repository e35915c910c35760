// How the renderer reaches the main process: Electron's preload verbs, or the browser-mode
// WebSocket. Both speak the IPC contract; the store sees only this interface.
import type { EventChannel, EventPayload, Request, RequestChannel, Response, Result } from '../../main/ipc/contract.ts';
import type { SqueezeApi } from '../../main/ipc/preload-api.ts';

export interface Bridge {
  invoke<C extends RequestChannel>(channel: C, request: Request<C>): Promise<Result<Response<C>>>;
  on<E extends EventChannel>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** Electron shows native file dialogs; browser mode takes a typed path */
  readonly canPickFiles: boolean;
  /** Electron only: where a dropped File is on disk (a browser page never learns a file's path) */
  readonly pathForFile?: (file: File) => string;
}

export function createElectronBridge(api: SqueezeApi): Bridge {
  return {
    invoke: (channel, request) => api.requests[channel](request),
    on: (event, listener) => api.on(event, listener),
    canPickFiles: true,
    pathForFile: (file) => api.pathForFile(file),
  };
}

type Listener = (payload: unknown) => void;

const disconnected = { ok: false, code: 'DISCONNECTED', message: 'Lost the connection to Squeeze: is it still running? Reload the page after restarting it.' } as const;

/** Browser mode: requests and events over one WebSocket, authenticated by the page's token. */
export function createWebSocketBridge(url: string): Bridge {
  const socket = new WebSocket(url);
  const opened = new Promise<boolean>((resolve) => {
    socket.addEventListener('open', () => resolve(true));
    socket.addEventListener('close', () => resolve(false));
  });
  const pending = new Map<number, (result: Result<never>) => void>();
  const listeners = new Map<string, Set<Listener>>();
  let nextId = 1;

  socket.addEventListener('message', (e: MessageEvent<string>) => {
    let message: { id?: number; result?: Result<never>; event?: string; payload?: unknown };
    try {
      message = JSON.parse(e.data);
    } catch {
      return;
    }
    if (typeof message.id === 'number' && message.result) {
      pending.get(message.id)?.(message.result);
      pending.delete(message.id);
    } else if (typeof message.event === 'string') {
      for (const listener of listeners.get(message.event) ?? []) listener(message.payload);
    }
  });
  socket.addEventListener('close', () => {
    for (const resolve of pending.values()) resolve(disconnected);
    pending.clear();
  });

  return {
    async invoke(channel, request) {
      if (!(await opened) || socket.readyState !== WebSocket.OPEN) return disconnected;
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve as (result: Result<never>) => void);
        socket.send(JSON.stringify({ id, channel, payload: request }));
      });
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set<Listener>();
      listeners.set(event, set);
      set.add(listener as Listener);
      return () => set.delete(listener as Listener);
    },
    canPickFiles: false,
  };
}
