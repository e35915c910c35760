// llama.cpp as the reference the engine is checked against, through node-llama-cpp@3.21.1's prebuilt
// CPU binaries: no GPU, flash attention off, F32 KV cache by default (experimentalKvCacheKeyType/
// ValueType, which 3.21.1 passes to llama.cpp as type_k/type_v), a fixed thread count.
//
// Everything runs in one long-lived child process (llama-cpp-worker.ts): a malformed model aborts
// llama.cpp's process, which here only rejects the pending calls (the next call starts a new child).
// The child caches loaded models and serves calls in order, so a test file pays for one process
// start and one load per model. It does not keep the parent alive while idle.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ReferenceOptions {
  /** CPU threads for llama.cpp (default 1). Results do not depend on it (measured: 1, 2 and 4 threads give
   * identical log-probs); more threads only pay off for large models on an otherwise idle machine. */
  threads?: number;
  /** F32 K and V cache instead of llama.cpp's default F16 (default true: the exact f32 reference) */
  f32Kv?: boolean;
}

export interface RunOptions { threads: number; f32Kv: boolean }

export type ReferenceRequest = { id: number; modelPath: string } & (
  | ({ op: 'logProbs'; tokens: number[]; positions?: number[] } & RunOptions)
  | ({ op: 'greedy'; promptTokens: number[]; nTokens: number; stopAtEog: boolean } & RunOptions)
  | { op: 'tokenize'; texts: string[]; special: boolean; addBos: boolean }
  | { op: 'detokenize'; tokens: number[][]; special: boolean }
);

export type ReferenceReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

// Distributes ReferenceRequest over its union members so callers can pass a request without its id.
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const WORKER = fileURLToPath(new URL('./llama-cpp-worker.ts', import.meta.url));
const STDERR_TAIL = 4000;

interface Pending { resolve(v: unknown): void; reject(e: Error): void; what: string }

class Worker {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private output = '';
  exited = false;

  constructor() {
    this.child = fork(WORKER, [], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced', // structured clone: Float32Array results cross without JSON
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (chunk: Buffer): void => { this.output = (this.output + chunk.toString()).slice(-STDERR_TAIL); };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.child.on('message', (reply: ReferenceReply) => this.settle(reply));
    this.child.on('exit', (code, signal) => this.fail(`llama.cpp worker exited (${signal ?? `code ${code}`})`));
    this.child.on('error', (e) => this.fail(`llama.cpp worker failed: ${e.message}`));
    this.setRef(false);
  }

  request(req: WithoutId<ReferenceRequest>): Promise<unknown> {
    const id = this.nextId++;
    const what = `${req.op} on ${req.modelPath}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, what });
      this.setRef(true);
      this.child.send({ ...req, id } as ReferenceRequest);
    });
  }

  kill(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => { this.child.once('exit', () => resolve()); this.child.kill(); });
  }

  private settle(reply: ReferenceReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.setRef(false);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`llama.cpp ${p.what}: ${reply.error}`));
  }

  private fail(message: string): void {
    this.exited = true;
    const tail = this.output.trim();
    for (const p of this.pending.values()) p.reject(new Error(`${message} during ${p.what}${tail ? `:\n${tail}` : ''}`));
    this.pending.clear();
  }

  // While idle the child must not keep the parent's event loop alive; while a call is pending it must,
  // or a test awaiting only this promise would exit early.
  private setRef(on: boolean): void {
    const handles = [this.child, this.child.channel, this.child.stdout, this.child.stderr] as
      Array<{ ref?(): unknown; unref?(): unknown } | null | undefined>;
    for (const h of handles) (on ? h?.ref : h?.unref)?.call(h);
  }
}

let worker: Worker | undefined;

function call<T>(req: WithoutId<ReferenceRequest>): Promise<T> {
  if (!worker || worker.exited) worker = new Worker();
  return worker.request(req) as Promise<T>;
}

function runOptions(opts: ReferenceOptions | undefined): RunOptions {
  const threads = opts?.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
  return { threads, f32Kv: opts?.f32Kv ?? true };
}

/**
 * Natural-log probabilities over the full vocabulary of the token after each position of `tokens`
 * (evaluated as one batch): result[i][t] = log P(t | tokens[0..i]). With `positions`, only those
 * positions, in that order (long inputs: every position costs a vocabulary-sized array).
 * Values below ~-87 are imprecise and below ~-103 are -Infinity (llama.cpp hands out f32
 * probabilities, not logits).
 */
export async function referenceLogProbs(modelPath: string, tokens: number[],
  opts?: ReferenceOptions & { positions?: number[] }): Promise<Float32Array[]> {
  const positions = opts?.positions;
  if (positions?.some((p) => !Number.isInteger(p) || p < 0 || p >= tokens.length)) {
    throw new Error(`positions must be indices into the ${tokens.length} tokens, got ${positions}`);
  }
  return call({ op: 'logProbs', modelPath, tokens, positions, ...runOptions(opts) });
}

/**
 * Greedy (temperature 0) continuation of `promptTokens`: the prompt is one batch, then one token per
 * decode. Returns exactly `nTokens` tokens, continuing past end-of-generation tokens unless
 * `stopAtEog` (then the EOG token is the last one returned).
 */
export async function referenceGreedy(modelPath: string, promptTokens: number[], nTokens: number,
  opts?: ReferenceOptions & { stopAtEog?: boolean }): Promise<number[]> {
  return call({ op: 'greedy', modelPath, promptTokens, nTokens, stopAtEog: opts?.stopAtEog ?? false, ...runOptions(opts) });
}

/**
 * llama.cpp's tokenization of each text. `special` (default true) parses special-token text such
 * as `<|im_start|>`; `addBos` (default false) is llama.cpp's add_special: BOS/EOS are added only
 * where the vocabulary asks for them (tokenizer.ggml.add_bos_token / add_eos_token).
 */
export async function referenceTokenize(modelPath: string, texts: string[], opts?: { special?: boolean; addBos?: boolean }): Promise<number[][]> {
  return call({ op: 'tokenize', modelPath, texts, special: opts?.special ?? true, addBos: opts?.addBos ?? false });
}

/** llama.cpp's text for each token list; `special` (default true) renders special tokens as their text. */
export async function referenceDetokenize(modelPath: string, tokens: number[][], opts?: { special?: boolean }): Promise<string[]> {
  return call({ op: 'detokenize', modelPath, tokens, special: opts?.special ?? true });
}

/** Stops the worker now (it also goes away with the parent process); the next call starts a new one. */
export async function closeReference(): Promise<void> {
  const w = worker;
  worker = undefined;
  await w?.kill();
}
