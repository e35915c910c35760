// One entry point for every request, whichever transport carried it (Electron IPC, WebSocket):
// the sender is checked, the channel must be in the contract, the payload must match its schema,
// and whatever the handler throws comes back as {ok:false, code, message}.
import { requests, type Handlers, type Result } from './contract.ts';
import { REQUEST_CHANNELS, type RequestChannel } from './channels.ts';

export type IpcErrorCode = 'IPC_UNKNOWN_SENDER' | 'IPC_UNKNOWN_CHANNEL' | 'IPC_BAD_REQUEST' | 'IPC_BAD_RESPONSE' | 'INTERNAL';

export type Route<S> = (channel: unknown, payload: unknown, sender: S) => Promise<Result<unknown>>;

export interface RouterOptions<S> {
  handlers: Handlers;
  /** true only for senders this process created (its own window or an authenticated socket) */
  isKnownSender: (sender: S) => boolean;
}

/** An error a handler throws to send a code the renderer can act on. */
export class AppError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'AppError';
  }
}

const channelSet: ReadonlySet<string> = new Set(REQUEST_CHANNELS);

function isRequestChannel(channel: unknown): channel is RequestChannel {
  return typeof channel === 'string' && channelSet.has(channel);
}

function fail(code: string, message: string): Result<never> {
  return { ok: false, code, message };
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : undefined;
}

export function createRouter<S>({ handlers, isKnownSender }: RouterOptions<S>): Route<S> {
  return async (channel, payload, sender) => {
    if (!isKnownSender(sender)) return fail('IPC_UNKNOWN_SENDER', 'The request came from a sender this app did not create.');
    if (!isRequestChannel(channel)) return fail('IPC_UNKNOWN_CHANNEL', `There is no channel named ${JSON.stringify(String(channel)).slice(0, 80)}.`);
    const schema = requests[channel];
    const request = schema.request.safeParse(payload ?? {});
    if (!request.success) {
      const issue = request.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` (${issue.path.join('.')})` : '';
      return fail('IPC_BAD_REQUEST', `Bad request on ${channel}${where}: ${issue?.message ?? 'invalid payload'}.`);
    }
    let data: unknown;
    try {
      const handler = handlers[channel] as (request: unknown) => Promise<unknown>;
      data = await handler(request.data);
    } catch (e) {
      const code = errorCode(e);
      const message = e instanceof Error ? e.message : String(e);
      return code ? fail(code, message) : fail('INTERNAL', `Something went wrong on ${channel}: ${message}`);
    }
    const response = schema.response.safeParse(data);
    if (!response.success) return fail('IPC_BAD_RESPONSE', `The app produced an invalid answer on ${channel}.`);
    return { ok: true, data: response.data };
  };
}
