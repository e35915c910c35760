// A scripted bridge for store tests: replies per channel, the calls made, and events to emit.
import type { EventChannel, EventPayload, RequestChannel, Result } from '../../main/ipc/contract.ts';
import type { Bridge } from '../../renderer/src/bridge.ts';

type Reply = (request: any) => Result<unknown> | Promise<Result<unknown>>;

export function fakeBridge(replies: Partial<Record<RequestChannel, Reply>>) {
  const calls: [RequestChannel, unknown][] = [];
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const bridge: Bridge = {
    async invoke(channel, request) {
      calls.push([channel, request]);
      const reply = replies[channel];
      if (!reply) return { ok: false, code: 'TEST_NO_REPLY', message: channel };
      return (await reply(request)) as never;
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      set.add(listener as (p: unknown) => void);
      return () => set.delete(listener as (p: unknown) => void);
    },
    canPickFiles: false,
  };
  const emit = <E extends EventChannel>(event: E, payload: EventPayload<E>) => listeners.get(event)?.forEach((l) => l(payload));
  return { bridge, calls, emit };
}

