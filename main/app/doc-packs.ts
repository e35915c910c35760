// The document packs behind the app's chats: a DocChat per chat's documents, opened from the pack on
// disk or built (prefill, clustering, calibration) with progress, ETA and cancel. One DocChat is kept
// open at a time: each holds a KV cache of the whole context, and the user talks to one chat at once.
import { createHash } from 'node:crypto';

import type { FixedContext } from '../docs/index.ts';
import { readBuildRate, recordBuildRate } from '../docs/plan.ts';
import { defaultPackDir, DocChat, type PackInfo } from '../engine/doc-chat.ts';
import type { Model } from '../engine/engine.ts';
import type { Backend, NativeIngestPhase } from '../engine/native.ts';
import type { DocumentSet } from '../ipc/contract.ts';
import { AppError } from '../ipc/router.ts';

export interface PackProgress {
  phase: NativeIngestPhase;
  done: number;
  total: number;
  /** the rest of this phase at the rate measured so far in it */
  etaMs?: number;
}

export interface OpenPackOptions {
  contextSize: number;
  threads: number;
  /** where the pack is built and answered: 'auto' takes the GPU when there is one */
  backend: Backend;
  packDir?: string;
  onProgress: (progress: PackProgress) => void;
}

/** ETA per phase: the time taken so far over the share done, for what is left. */
function progressTracker(onProgress: (p: PackProgress) => void): (phase: NativeIngestPhase, done: number, total: number) => void {
  let phase: NativeIngestPhase | undefined;
  let started = 0;
  return (next, done, total) => {
    const now = performance.now();
    if (next !== phase) {
      phase = next;
      started = now;
    }
    const elapsed = now - started;
    const etaMs = done > 0 && elapsed > 0 ? (elapsed / done) * (total - done) : undefined;
    onProgress({ phase: next, done, total, ...(etaMs !== undefined && { etaMs }) });
  };
}

export function packStatus(pack: PackInfo, contextSize: number): NonNullable<DocumentSet['pack']> {
  const build = pack.build;
  return {
    state: pack.built ? 'built' : 'loaded',
    bytes: pack.bytes,
    fixedTokens: pack.nFixed,
    contextSize,
    ...(build && { buildMs: build.prefillMs + build.clusterMs + build.calibrateMs + build.writeMs }),
    ...(pack.loadMs !== undefined && { loadMs: pack.loadMs }),
    sparsities: pack.sparsities,
    perLayerThresholds: pack.perLayerThresholds,
  };
}

export class DocPacks {
  private open?: { chatId: string; key: string; docChat: DocChat };
  private opening?: { chatId: string; controller: AbortController; phase?: PackProgress };
  private readonly modelIds = new WeakMap<Model, number>();
  private nextModelId = 1;

  private readonly packDir: string;

  constructor(packDir?: string) {
    this.packDir = packDir ?? defaultPackDir();
  }

  /** A sentence for a BUSY error while a pack is being built, else undefined. */
  get busyReason(): string | undefined {
    if (!this.opening) return undefined;
    const p = this.opening.phase;
    const where = p ? ` (${p.phase} ${p.total > 0 ? Math.floor((100 * p.done) / p.total) : 0}%)` : '';
    return `The documents are still being processed${where}: ask again when they are ready.`;
  }

  get openingChatId(): string | undefined {
    return this.opening?.chatId;
  }

  cancel(chatId: string): boolean {
    if (this.opening?.chatId !== chatId) return false;
    this.opening.controller.abort();
    return true;
  }

  /** Drops the open DocChat if it belongs to `chatId` (its documents changed or it was deleted). */
  forget(chatId: string): void {
    if (this.open?.chatId === chatId) this.open = undefined;
  }

  /** The chat's DocChat: the open one when nothing changed, else opened from disk or built. */
  async get(chatId: string, model: Model, context: FixedContext, options: OpenPackOptions): Promise<DocChat> {
    const key = this.key(model, context, options);
    if (this.open?.chatId === chatId && this.open.key === key) return this.open.docChat;
    if (this.opening) throw new AppError('BUSY', this.busyReason!);
    const opening = { chatId, controller: new AbortController() } as NonNullable<DocPacks['opening']>;
    this.opening = opening;
    this.open = undefined;
    const track = progressTracker((p) => {
      opening.phase = p;
      options.onProgress(p);
    });
    // The engine reports prefill per batch (512 tokens): a short document has no event until its
    // prefill is over, so the phase is announced now, with the whole build's ETA at the rate of
    // this model's last build (recorded in the pack dir, as the CLI does).
    const estimate = context.tokens;
    try {
      if (estimate !== undefined) {
        const rate = await readBuildRate(this.packDir, model.fingerprint());
        opening.phase = { phase: 'prefill', done: 0, total: estimate, ...(rate && { etaMs: (1000 * estimate) / rate.tokensPerSecond }) };
        options.onProgress(opening.phase);
      }
      const docChat = await DocChat.open(model, context, {
        contextSize: options.contextSize,
        threads: options.threads,
        backend: options.backend,
        onProgress: track,
        signal: opening.controller.signal,
        packDir: this.packDir,
      });
      // A pack loaded from disk returns without looking at the signal: a Cancel meanwhile still wins.
      if (opening.controller.signal.aborted) throw Object.assign(new Error('cancelled'), { code: 'SQUEEZE_CANCELLED' });
      const b = docChat.pack.build;
      if (b) await recordBuildRate(this.packDir, model.fingerprint(), b.nFixed, b.prefillMs + b.clusterMs + b.calibrateMs + b.writeMs);
      this.open = { chatId, key, docChat };
      return docChat;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'SQUEEZE_CANCELLED') throw new AppError('DOC_CANCELLED', 'Processing the documents was cancelled.');
      if (code === 'CONTEXT_FULL') throw new AppError('DOC_TOO_LARGE', `The documents do not fit the model's context: ${(e as Error).message}.`);
      throw e;
    } finally {
      this.opening = undefined;
    }
  }

  private key(model: Model, context: FixedContext, options: OpenPackOptions): string {
    let modelId = this.modelIds.get(model);
    if (modelId === undefined) this.modelIds.set(model, (modelId = this.nextModelId++));
    const text = createHash('sha256').update(context.text).digest('hex');
    return `${modelId}:${options.contextSize}:${options.threads}:${options.backend}:${text}`;
  }
}
