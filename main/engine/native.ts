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
}

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
}

export interface NativeModel {
  info(): NativeModelInfo;
  metadata(): Record<string, unknown>;
  createSession(options?: NativeSessionOptions): NativeSession;
}

export interface NativeSystemInfo {
  simd: 'avx512' | 'avx2' | 'scalar';
  hardwareThreads: number;
  availableMemory: number;
  /** GPU support: compiled in, and usable on this machine (devices > 0), or why not. */
  cuda: { compiled: boolean; devices: number; device: string };
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
