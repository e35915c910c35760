// What the Electron preload puts on window.squeeze: one verb per request channel and a subscription
// per event channel, nothing else (never ipcRenderer itself).
import type { EventChannel, EventPayload, Request, RequestChannel, Response, Result } from './contract.ts';

export type RequestVerbs = { [C in RequestChannel]: (request: Request<C>) => Promise<Result<Response<C>>> };

export interface SqueezeApi {
  requests: RequestVerbs;
  /** returns the function that unsubscribes */
  on<E extends EventChannel>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** the path on disk of a File dropped on the page ('' when it has none); Electron's webUtils */
  pathForFile(file: File): string;
}
