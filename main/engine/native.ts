// The only loader of the native addon. Everything else talks to main/engine/engine.ts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeModelInfo {
  arch: string;
  nVocab: number;
  nCtxTrain: number;
  nEmbd: number;
  nLayers: number;
  nFf: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  nRot: number;
  rmsEps: number;
  ropeFreqBase: number;
  ropeFreqScale: number;
  ropeOrder: 'normal' | 'neox';
  tiedOutput: boolean;
  ggufVersion: number;
  fileSize: number;
  tensorTypes: Record<string, number>;
  nTensors: number;
  nParams: number;
}

export interface NativeSessionOptions {
  nCtx?: number;
  nThreads?: number;
  nBatch?: number;
  kvType?: 'f16' | 'f32';
  /** where the forward pass runs; auto: the GPU when the addon has CUDA, a GPU is present and it takes the model */
  backend?: Backend;
}

export type Backend = 'cpu' | 'cuda' | 'auto';

export interface NativeGenerateOptions {
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  repeatLastN?: number;
  seed?: number;
  stopTokens?: number[];
}

export type NativeStopReason = 'eog' | 'max_tokens' | 'cancelled' | 'context_full';

export interface NativeGenerateResult {
  tokens: number[];
  nPrompt: number;
  nPromptReused: number;
  prefillMs: number;
  decodeMs: number;
  stopReason: NativeStopReason;
}

export interface NativeSession {
  generate(tokens: number[], options: NativeGenerateOptions, onToken?: (token: number) => void): Promise<NativeGenerateResult>;
  /** Logits [n_tokens][n_vocab] of every position, evaluated from an empty cache. */
  evalLogits(tokens: number[]): Promise<Float32Array>;
  cancel(): void;
  reset(): void;
  cachedTokens(): number[];
  /** "cpu", or the GPU's name when the session runs there */
  device(): string;
}

/** How the attention over the document is computed (DESIGN.md §3). */
export type NativeSqueezeMode = 'dense' | 'all' | 'sparsity' | 'budget' | 'mass';

export interface NativeAnswerOptions extends NativeGenerateOptions {
  /** dense: the engine's dense attention (exactly plain generation); all: the squeezed path with every cluster */
  mode?: NativeSqueezeMode;
  /** mode 'sparsity': the pack's calibrated target nearest to this is used */
  sparsity?: number;
  /** mode 'budget': fixed-context keys per KV head */
  budget?: number;
  /** mode 'mass': estimated attention mass to cover */
  massTarget?: number;
  /** per-layer thresholds instead of the global ones */
  perLayer?: boolean;
  /** evaluation: attention-mass recall per layer in the stats (costs a dense pass over the document) */
  recall?: boolean;
  /** collect each document token's attention mass (for citations; default true); false: tokenMass is empty */
  tokenMass?: boolean;
  /** the question's prefill selects keys per token, as decode does, instead of from its averaged scores */
  perToken?: boolean;
  /** evaluation: each lookup's selection replaced by the clusters or single keys of the same count with the most true attention */
  oracle?: 'none' | 'clusters' | 'keys';
}

export interface NativeSqueezeStats {
  clustersPerLevel: number[];
  nLayers: number;
  nKvHeads: number;
  /** [nLayers][nKvHeads] fixed-context keys attended per lookup: mean and standard deviation */
  keysMean: Float64Array;
  keysStddev: Float64Array;
  keysAttended: number;
  keysFixed: number;
  sparsity: number;
  centroidsScored: number;
  bytesRead: number;
  bytesDense: number;
  lookupMs: number;
  /** fixedAttentionMs + dynamicAttentionMs + mergeMs (wall time) */
  attentionMs: number;
  /** exact attention over the selected document keys (token-mass collection included) */
  fixedAttentionMs: number;
  /** exact causal attention over the dynamic tokens (question, turns, answer) */
  dynamicAttentionMs: number;
  /** log-sum-exp merge of the two parts (the shared softmax when rounding as the dense kernel) */
  mergeMs: number;
  /** [nLayers] mean attention-mass recall of the selected keys (empty unless options.recall) */
  recallPerLayer: Float64Array;
}

/** The squeeze part of NativeAnswerOptions. */
export type NativeSqueezeOptions = Pick<NativeAnswerOptions, 'mode' | 'sparsity' | 'budget' | 'massTarget' | 'perLayer' | 'recall' | 'tokenMass' | 'perToken' | 'oracle'>;

export interface NativeEvalLogitsResult {
  /** [continuation.length][nVocab] */
  logits: Float32Array;
  mode: NativeSqueezeMode;
  target: number;
  stats: NativeSqueezeStats;
}

export interface NativeAnswerResult extends NativeGenerateResult {
  mode: NativeSqueezeMode;
  /** mode 'sparsity': the calibrated target used */
  target: number;
  stats: NativeSqueezeStats;
  /** [nFixed] attention probability per fixed-context token, summed over layers, heads and tokens; empty when not asked */
  tokenMass: Float32Array;
}

/** The sparsities a pack's thresholds were calibrated for (its own ladder, whatever the engine's default). */
export interface NativePackLadder {
  /** ascending, in (0, 1) */
  sparsities: number[];
  /** per-layer thresholds are stored beside the global ones */
  perLayer: boolean;
}

export interface NativeIngestResult extends NativePackLadder {
  nFixed: number;
  prefillMs: number;
  clusterMs: number;
  calibrateMs: number;
  writeMs: number;
  packBytes: number;
}

export interface NativePackLoad extends NativePackLadder {
  loadMs: number;
  nFixed: number;
  sourceMap: string;
}

/** sparsities: the ladder to calibrate (ingest) or expect (loadPack; a pack of another ladder is PACK_STALE); default calibrate.h's. */
export interface NativePackSettings {
  sparsities?: number[];
}

export type NativeIngestPhase = 'prefill' | 'cluster' | 'calibrate';

export interface NativeDocSession {
  /** Rejects with PACK_MISSING, PACK_STALE, PACK_TRUNCATED, PACK_BAD, PACK_READ or PACK_MISMATCH. */
  loadPack(path: string, expect: { docHash: string; fixedTokens: number[] } & NativePackSettings): Promise<NativePackLoad>;
  /** Dense prefill, clustering, calibration; writes the pack atomically at options.path and uses it. */
  ingest(
    fixedTokens: number[],
    options: { path: string; docHash: string; sourceMap: string } & NativePackSettings,
    onProgress?: (phase: NativeIngestPhase, done: number, total: number) => void,
  ): Promise<NativeIngestResult>;
  /** Generates after the pack's fixed context followed by `tokens` (the conversation's dynamic part). */
  answer(tokens: number[], options: NativeAnswerOptions, onToken?: (token: number) => void): Promise<NativeAnswerResult>;
  /**
   * Teacher-forced logits (accuracy evaluation): `tokens` as one batch after the fixed context, then
   * continuation[0 .. n-2] one at a time, in the given mode. Row i predicts continuation[i].
   */
  evalLogits(tokens: number[], continuation: number[], options?: NativeSqueezeOptions): Promise<NativeEvalLogitsResult>;
  cancel(): void;
  /** 'cpu', or the GPU's name when the forward pass and the squeezed attention run there */
  device(): string;
}

export interface NativeModel {
  info(): NativeModelInfo;
  metadata(): Record<string, unknown>;
  createSession(options?: NativeSessionOptions): NativeSession;
  createDocSession(options?: Omit<NativeSessionOptions, 'kvType'>): NativeDocSession;
  /** SHA-256 over what decides the model's K/V (hyperparameters, tensor table, weight samples, size) */
  fingerprint(): string;
}

export interface NativeSystemInfo {
  simd: 'avx512' | 'avx2' | 'scalar';
  hardwareThreads: number;
  availableMemory: number;
  /** GPU support: compiled in, and usable on this machine (devices > 0), or why not. */
  cuda: { compiled: boolean; devices: number; device: string };
  /** the sparsities new document packs are calibrated for (f32 values: 0.7 reads 0.699999988) */
  squeezeSparsities: number[];
}

export interface NativeAddon {
  loadModel(path: string): Promise<NativeModel>;
  systemInfo(): NativeSystemInfo;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where cmake-js puts the addon (`npm run build:native`), unless SQUEEZE_ADDON names another. */
export function addonPath(): string {
  return process.env.SQUEEZE_ADDON ?? join(repoRoot, 'build', 'native', 'Release', 'squeeze.node');
}

let addon: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const path = addonPath();
  if (!existsSync(path)) {
    throw Object.assign(new Error(`the native engine is not built (${path} is missing): run \`npm run build:native\``), {
      code: 'ADDON_MISSING',
    });
  }
  addon = createRequire(import.meta.url)(path) as NativeAddon;
  return addon;
}
