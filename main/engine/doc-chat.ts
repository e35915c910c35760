// Questions about documents with Squeezed Attention (DESIGN.md §3): the documents become a fixed
// context that is prefilled, clustered and calibrated once into a document pack on disk; every
// question then evaluates only its own tokens and attends to the document keys that matter.
//
// Prompt layout: the chat template renders [system: instructions + documents] as a stable prefix
// (the fixed context, tokenized once: the documents' text without special-token parsing, so a
// document cannot inject control tokens), then the conversation (the dynamic part, re-rendered each
// turn). Plain generation over fixedTokens ++ dynamicTokens is the same prompt, densely.
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { citePages, NEUTRAL_QUESTION } from '../docs/citations.ts';
import { locate, type ContextSpan, type FixedContext } from '../docs/fixed-context.ts';
import type { ChatMessage } from './chat-template.ts';
import type { Model } from './engine.ts';
import type {
  Backend,
  NativeAnswerOptions,
  NativeDocSession,
  NativeIngestPhase,
  NativeIngestResult,
  NativeSqueezeMode,
  NativeSqueezeOptions,
} from './native.ts';

export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful assistant. Answer the question using the documents below, and name the page you found the answer on.';

/** Tokens kept free after the documents for the conversation and the answer. */
const DEFAULT_RESERVE_TOKENS = 1024;

export function defaultPackDir(): string {
  return process.env.SQUEEZE_PACK_DIR ?? join(homedir(), '.cache', 'squeeze', 'packs');
}

export interface DocChatOptions {
  packDir?: string;
  systemPrompt?: string;
  threads?: number;
  /** where the forward pass and the squeezed attention run (default 'cpu'); 'auto': the GPU when one takes the model */
  backend?: Backend;
  /** KV cache size; default: the documents plus reserveTokens, at most the model's training context */
  contextSize?: number;
  reserveTokens?: number;
  /** build the pack even when a valid one exists */
  rebuild?: boolean;
  /** the sparsities to calibrate the pack for (ascending, in (0, 1)); default: the engine's ladder (calibrate.h) */
  sparsities?: number[];
  onProgress?: (phase: NativeIngestPhase, done: number, total: number) => void;
  /** stops building the pack (rejects with SQUEEZE_CANCELLED; nothing is written) */
  signal?: AbortSignal;
}

export interface PackInfo {
  path: string;
  /** true when this open built the pack (none, stale or damaged on disk, or rebuild asked) */
  built: boolean;
  /** why an existing pack was not used (PACK_STALE, PACK_TRUNCATED, PACK_BAD ... and its message) */
  rebuildReason?: string;
  nFixed: number;
  bytes: number;
  build?: NativeIngestResult;
  loadMs?: number;
  /** the sparsities the pack is calibrated for, as the engine read them from it: mode 'sparsity' uses the nearest */
  sparsities: number[];
  /** per-layer thresholds are available (AskMode perLayer) */
  perLayerThresholds: boolean;
}

export type AskMode =
  /** the engine's dense attention: the same computation as plain generation (no stats, no citations) */
  | { kind: 'dense' }
  /** the squeezed path with every cluster selected: dense to float rounding, with stats and citations */
  | { kind: 'all' }
  | { kind: 'sparsity'; sparsity: number; perLayer?: boolean; perToken?: boolean; oracle?: 'clusters' | 'keys' }
  | { kind: 'budget'; budget: number }
  | { kind: 'mass'; massTarget: number };

export interface AskOptions {
  mode?: AskMode;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  /** as in plain generation (default 1: none) */
  repeatPenalty?: number;
  repeatLastN?: number;
  onText?: (text: string) => void;
  signal?: AbortSignal;
  /** keep the turn in the conversation (default true) */
  remember?: boolean;
  /** the conversation before this question, replacing the remembered one (a stored chat, an edit) */
  history?: ChatMessage[];
  /**
   * collect each document token's attention mass for citations (default true). false: no citations
   * (AskResult.noCitations says so), and no neutral-question pass before the first answer in a mode.
   */
  tokenMass?: boolean;
  /** keep generating through end-of-generation tokens until maxTokens (benchmarks: a fixed number of decode steps) */
  ignoreEog?: boolean;
}

export interface Citation {
  source: string;
  page: number;
  lines?: [number, number];
  /** share of the cited tokens' attention mass on this page */
  share: number;
}

export interface AskStats {
  mode: NativeSqueezeMode;
  /** mode 'sparsity': the calibrated target used */
  target?: number;
  clustersPerLevel: number[];
  /** per layer, over its KV heads and lookups: fixed-context keys attended */
  keysPerLayer: { mean: number; stddev: number }[];
  /** [layer][KV head] mean keys attended */
  keysPerHead: number[][];
  fixedTokens: number;
  sparsity: number;
  bytesRead: number;
  bytesDense: number;
  lookupMs: number;
  /** fixedAttentionMs + dynamicAttentionMs + mergeMs */
  attentionMs: number;
  /** exact attention over the selected document keys (with token-mass collection when asked) */
  fixedAttentionMs: number;
  /** exact causal attention over the conversation's own tokens */
  dynamicAttentionMs: number;
  /** joining the two parts (log-sum-exp merge, or their shared softmax) */
  mergeMs: number;
  otherMs: number;
}

export interface AskResult {
  answer: string;
  tokens: number[];
  stopReason: string;
  timings: {
    /** tokens evaluated before the first answer token: the question (and earlier turns not cached) */
    prefillTokens: number;
    reusedTokens: number;
    generated: number;
    prefillMs: number;
    decodeMs: number;
    prefillTokensPerSecond: number;
    decodeTokensPerSecond: number;
  };
  stats: AskStats;
  citations: Citation[];
  /** why citations is empty by construction: dense attention measures no attention mass, or tokenMass was off */
  noCitations?: 'dense' | 'token-mass-off';
}

export interface EvalLogits {
  /** [continuation.length][nVocab] */
  logits: Float32Array;
  nVocab: number;
  /** achieved sparsity over the lookups of this evaluation (0 for dense and all) */
  sparsity: number;
  /** per layer, mean share of the dense attention over the document that fell on the selected keys (when asked) */
  recallPerLayer: number[];
}

interface SourceMap {
  spans: { source: string; page: number; lines?: [number, number] }[];
  /** [first fixed token, span index or -1], ascending by token */
  runs: [number, number][];
}

export class DocChat {
  private history: ChatMessage[] = [];
  private sourceMap: SourceMap;
  /** per squeeze mode: the attention a neutral question gives each fixed-context token (citations subtract it) */
  private baselines = new Map<string, Float32Array>();

  private constructor(
    readonly model: Model,
    private readonly native: NativeDocSession,
    readonly fixedTokens: number[],
    private readonly systemMessage: ChatMessage,
    private readonly prefixText: string,
    readonly pack: PackInfo,
    sourceMap: SourceMap,
  ) {
    this.sourceMap = sourceMap;
  }

  /** 'cpu', or the GPU's name when the session runs there. */
  get device(): string {
    return this.native.device();
  }

  /** Uses the pack for these documents if a valid one is on disk, else builds and writes it. */
  static async open(model: Model, context: FixedContext, options: DocChatOptions = {}): Promise<DocChat> {
    const systemMessage: ChatMessage = { role: 'system', content: `${options.systemPrompt ?? DEFAULT_SYSTEM_PROMPT}\n\n${context.text}` };
    const prefixText = model.formatChat([systemMessage], false);
    const docStart = prefixText.indexOf(context.text);
    if (docStart < 0) throw coded('CHAT_TEMPLATE_ERROR', "the chat template does not keep the system message's text");
    const tokenizer = model.tokenizer;
    const before = tokenizer.encode(prefixText.slice(0, docStart), { addSpecial: true, parseSpecial: true });
    const docTokens = tokenizer.encode(context.text, { addSpecial: false, parseSpecial: false });
    const after = tokenizer.encode(prefixText.slice(docStart + context.text.length), { addSpecial: false, parseSpecial: true });
    const fixedTokens = [...before, ...docTokens, ...after];
    const sourceMap = buildSourceMap(model, context.spans, before.length, docTokens);

    const nCtxTrain = model.info.nCtxTrain || Number.MAX_SAFE_INTEGER;
    const contextSize = options.contextSize ?? Math.min(nCtxTrain, fixedTokens.length + (options.reserveTokens ?? DEFAULT_RESERVE_TOKENS));
    if (fixedTokens.length >= contextSize) {
      throw coded('CONTEXT_FULL', `the documents take ${fixedTokens.length} tokens; the model's context holds ${contextSize}`);
    }
    const native = model.createDocSession({ contextSize, threads: options.threads, backend: options.backend });

    const docHash = sha256(JSON.stringify({ prefixText, spans: context.spans }));
    const fingerprint = model.fingerprint();
    const packDir = options.packDir ?? defaultPackDir();
    mkdirSync(packDir, { recursive: true });
    const path = join(packDir, `${docHash.slice(0, 16)}-${fingerprint.slice(0, 16)}.sqpack`);

    let rebuildReason: string | undefined;
    if (!options.rebuild) {
      try {
        const loaded = await native.loadPack(path, { docHash, fixedTokens, sparsities: options.sparsities });
        const pack: PackInfo = {
          path, built: false, nFixed: loaded.nFixed, bytes: statSync(path).size, loadMs: loaded.loadMs,
          sparsities: ladder(loaded.sparsities), perLayerThresholds: loaded.perLayer,
        };
        return new DocChat(model, native, fixedTokens, systemMessage, prefixText, pack, JSON.parse(loaded.sourceMap) as SourceMap);
      } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        if (!code.startsWith('PACK_')) throw e;
        if (code !== 'PACK_MISSING') rebuildReason = `${code}: ${(e as Error).message}`;
      }
    }
    // An abort while the pack was being looked for cancels the build before it starts.
    if (options.signal?.aborted) throw coded('SQUEEZE_CANCELLED', 'building the document pack was cancelled');
    const onAbort = () => native.cancel();
    options.signal?.addEventListener('abort', onAbort);
    let build: NativeIngestResult;
    try {
      build = await native.ingest(fixedTokens, { path, docHash, sourceMap: JSON.stringify(sourceMap), sparsities: options.sparsities }, options.onProgress);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    const pack: PackInfo = {
      path, built: true, nFixed: build.nFixed, bytes: build.packBytes, build, ...(rebuildReason && { rebuildReason }),
      sparsities: ladder(build.sparsities), perLayerThresholds: build.perLayer,
    };
    return new DocChat(model, native, fixedTokens, systemMessage, prefixText, pack, sourceMap);
  }

  /** The dynamic tokens of the conversation so far plus `question` (after the fixed context). */
  dynamicTokens(question: string): number[] {
    const full = this.model.formatChat([this.systemMessage, ...this.history, { role: 'user', content: question }], true);
    if (!full.startsWith(this.prefixText)) throw coded('CHAT_TEMPLATE_ERROR', 'the chat template does not render the system message as a stable prefix');
    return this.model.tokenizer.encode(full.slice(this.prefixText.length), { addSpecial: false, parseSpecial: true });
  }

  async ask(question: string, options: AskOptions = {}): Promise<AskResult> {
    if (options.history) this.history = options.history.map(({ role, content }) => ({ role, content }));
    const dynamic = this.dynamicTokens(question);
    const mode = options.mode ?? { kind: 'sparsity', sparsity: 0.9 };
    const tokenMass = mode.kind !== 'dense' && (options.tokenMass ?? true);
    const nativeOptions: NativeAnswerOptions = {
      ...squeezeOptions(mode),
      tokenMass,
      maxTokens: options.maxTokens ?? 256,
      temperature: options.temperature ?? 0,
      seed: options.seed,
      ...(options.repeatPenalty !== undefined && { repeatPenalty: options.repeatPenalty, repeatLastN: options.repeatLastN }),
      stopTokens: options.ignoreEog ? [] : this.model.eogTokens,
    };
    // Before the answer, so the session's cache ends holding this turn (the next one reuses it).
    const baseline = tokenMass ? await this.baselineMass(mode) : undefined;
    const decoder = this.model.tokenizer.createStreamDecoder();
    let answer = '';
    const onAbort = () => this.native.cancel();
    options.signal?.addEventListener('abort', onAbort);
    let r;
    try {
      r = await this.native.answer(dynamic, nativeOptions, (token) => {
        const piece = decoder.push(token);
        answer += piece;
        if (piece) options.onText?.(piece);
      });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    const tail = decoder.flush();
    answer += tail;
    if (tail) options.onText?.(tail);
    if (options.remember ?? true) this.history.push({ role: 'user', content: question }, { role: 'assistant', content: answer });

    const prefillTokens = r.nPrompt - r.nPromptReused;
    const s = r.stats;
    const keysPerHead = Array.from({ length: s.nLayers }, (_, l) => Array.from(s.keysMean.subarray(l * s.nKvHeads, (l + 1) * s.nKvHeads)));
    const keysPerLayer = keysPerHead.map((means, l) => {
      const mean = means.reduce((a, b) => a + b, 0) / Math.max(1, means.length);
      // Pooled over the layer's heads: within-head variance plus the spread of the head means.
      let sq = 0;
      means.forEach((m, h) => (sq += s.keysStddev[l * s.nKvHeads + h] ** 2 + (m - mean) ** 2));
      return { mean, stddev: Math.sqrt(sq / Math.max(1, means.length)) };
    });
    return {
      answer,
      tokens: r.tokens,
      stopReason: r.stopReason,
      timings: {
        prefillTokens,
        reusedTokens: r.nPromptReused,
        generated: r.tokens.length,
        prefillMs: r.prefillMs,
        decodeMs: r.decodeMs,
        prefillTokensPerSecond: perSecond(prefillTokens, r.prefillMs),
        decodeTokensPerSecond: perSecond(Math.max(0, r.tokens.length - 1), r.decodeMs),
      },
      stats: {
        mode: r.mode,
        ...(r.mode === 'sparsity' && { target: Math.round(r.target * 1000) / 1000 }),
        clustersPerLevel: s.clustersPerLevel,
        keysPerLayer,
        keysPerHead,
        fixedTokens: this.fixedTokens.length,
        sparsity: s.sparsity,
        bytesRead: s.bytesRead,
        bytesDense: s.bytesDense,
        lookupMs: s.lookupMs,
        attentionMs: s.attentionMs,
        fixedAttentionMs: s.fixedAttentionMs,
        dynamicAttentionMs: s.dynamicAttentionMs,
        mergeMs: s.mergeMs,
        otherMs: Math.max(0, r.prefillMs + r.decodeMs - s.lookupMs - s.attentionMs),
      },
      citations: tokenMass ? this.citations(r.tokenMass, baseline) : [],
      ...(!tokenMass && { noCitations: mode.kind === 'dense' ? 'dense' : 'token-mass-off' }),
    };
  }

  /** The token mass of a neutral question in `mode` (one token generated), computed once per mode. */
  private async baselineMass(mode: AskMode): Promise<Float32Array> {
    const key = JSON.stringify(squeezeOptions(mode));
    let mass = this.baselines.get(key);
    if (!mass) {
      // Plain text, not a chat turn: its first token differs from every turn's, so the session's
      // cache shares nothing with it and the answers' timings and stats are as without it.
      const tokens = this.model.tokenizer.encode(NEUTRAL_QUESTION, { addSpecial: false, parseSpecial: false });
      mass = (await this.native.answer(tokens, { ...squeezeOptions(mode), maxTokens: 1, temperature: 0, stopTokens: [] })).tokenMass;
      this.baselines.set(key, mass);
    }
    return mass;
  }

  /**
   * Accuracy evaluation: the next-token logits along `continuation` (teacher-forced: the question as
   * one batch, then each token as in decoding) after the conversation so far plus `question`, in
   * `mode`. Row i of logits [continuation.length][nVocab] predicts continuation[i].
   */
  async evalLogits(question: string, continuation: number[], mode: AskMode, options: { recall?: boolean } = {}): Promise<EvalLogits> {
    const r = await this.native.evalLogits(this.dynamicTokens(question), continuation, { ...squeezeOptions(mode), recall: options.recall });
    return {
      logits: r.logits,
      nVocab: r.logits.length / continuation.length,
      sparsity: r.stats.sparsity,
      recallPerLayer: Array.from(r.stats.recallPerLayer),
    };
  }

  /**
   * Pages holding the document tokens that got the most attention while answering, beyond what a
   * neutral question gives them (main/docs/citations.ts: raw mass cites attention sinks).
   */
  citations(tokenMass: Float32Array, baselineMass?: Float32Array): Citation[] {
    return citePages(this.sourceMap, tokenMass, baselineMass);
  }

  cancel(): void {
    this.native.cancel();
  }
}

function squeezeOptions(mode: AskMode): NativeSqueezeOptions {
  return {
    mode: mode.kind,
    ...(mode.kind === 'sparsity' && { sparsity: mode.sparsity, perLayer: mode.perLayer, perToken: mode.perToken, oracle: mode.oracle }),
    ...(mode.kind === 'budget' && { budget: mode.budget }),
    ...(mode.kind === 'mass' && { massTarget: mode.massTarget }),
  };
}

/** Which page each document token came from, as runs over the fixed context's tokens. */
function buildSourceMap(model: Model, spans: ContextSpan[], docFirstToken: number, docTokens: number[]): SourceMap {
  const runs: [number, number][] = [[0, -1]];
  const decoder = model.tokenizer.createStreamDecoder();
  let offset = 0; // characters of the document text decoded before the current token
  for (let i = 0; i < docTokens.length; i++) {
    const span = locate(spans, offset);
    const index = span ? spans.indexOf(span) : -1;
    if (runs[runs.length - 1][1] !== index) runs.push([docFirstToken + i, index]);
    offset += decoder.push(docTokens[i]).length;
  }
  runs.push([docFirstToken + docTokens.length, -1]);
  return { spans: spans.map((s) => ({ source: s.source, page: s.page, ...(s.lines && { lines: s.lines }) })), runs };
}

/** The engine stores a ladder of sparsities as f32 (0.7 reads 0.699999988): back to the decimals it was given in. */
export function ladder(sparsities: number[]): number[] {
  return sparsities.map((s) => Math.round(s * 1e4) / 1e4);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function perSecond(n: number, ms: number): number {
  return ms > 0 ? (n * 1000) / ms : 0;
}

function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}
