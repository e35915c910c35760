// The typed engine facade: models, sessions, text in and text out. Token ids cross into the
// native engine; text is handled here (tokenizer, chat template, stop strings, UTF-8 streaming).
import { renderChat, type ChatMessage } from './chat-template.ts';
import { loadAddon, type Backend, type NativeDocSession, type NativeGenerateOptions, type NativeModel, type NativeModelInfo, type NativeSession, type NativeStopReason } from './native.ts';
import { createTokenizer, tokenizerMetadataFromKv, type Tokenizer } from './tokenizer/index.ts';

export type { Backend } from './native.ts';

export type StopReason = NativeStopReason | 'stop_string';

export interface GenerateOptions extends Omit<NativeGenerateOptions, 'stopTokens'> {
  /** Generation ends when the text contains one of these; the stop string is not returned. */
  stop?: string[];
  /** Called with each new piece of text as it is decoded (always whole UTF-8 characters). */
  onText?: (text: string) => void;
  signal?: AbortSignal;
  /** Keep generating through end-of-generation tokens (benchmarks, reference comparisons). */
  ignoreEog?: boolean;
}

export interface GenerateTimings {
  nPrompt: number;
  nPromptReused: number;
  nGenerated: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  stopReason: StopReason;
  timings: GenerateTimings;
}

export interface SessionOptions {
  contextSize?: number;
  threads?: number;
  kvType?: 'f16' | 'f32';
  backend?: Backend;
}

/** An Error with the engine's code (e.g. GGUF_TRUNCATED, MODEL_UNKNOWN_ARCH, CONTEXT_FULL). */
export interface EngineError extends Error {
  code: string;
}

export function isEngineError(e: unknown): e is EngineError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

/** KV cache size when the caller does not choose one (the model's training context if smaller). */
const DEFAULT_CONTEXT = 8192;

export class Model {
  readonly info: NativeModelInfo;
  readonly metadata: Record<string, unknown>;
  readonly tokenizer: Tokenizer;
  private eog?: number[];

  private constructor(private readonly native: NativeModel, readonly path: string) {
    this.info = native.info();
    this.metadata = native.metadata();
    this.tokenizer = createTokenizer(tokenizerMetadataFromKv(this.metadata));
  }

  static async load(path: string): Promise<Model> {
    const native = await loadAddon().loadModel(path);
    return new Model(native, path);
  }

  /** Every id that ends generation (EOS, EOT, ...), as the tokenizer classifies them. */
  get eogTokens(): number[] {
    this.eog ??= Array.from({ length: this.tokenizer.nVocab }, (_, id) => id).filter((id) => this.tokenizer.isEog(id));
    return this.eog;
  }

  get chatTemplate(): string | undefined {
    const t = this.metadata['tokenizer.chat_template'];
    return typeof t === 'string' ? t : undefined;
  }

  /** The prompt text for a conversation, rendered with the model's chat template. */
  formatChat(messages: ChatMessage[], addGenerationPrompt = true): string {
    return renderChat(this.chatTemplate, messages, {
      addGenerationPrompt,
      bosToken: this.tokenizer.bos !== undefined ? this.tokenizer.tokenText(this.tokenizer.bos) : '',
      eosToken: this.tokenizer.eos !== undefined ? this.tokenizer.tokenText(this.tokenizer.eos) : '',
    });
  }

  /** SHA-256 over what decides the model's K/V: document packs are keyed by it. */
  fingerprint(): string {
    return this.native.fingerprint();
  }

  /** A native session over a document pack (main/engine/doc-chat.ts drives it). */
  createDocSession(options: Omit<SessionOptions, 'kvType'> = {}): NativeDocSession {
    return this.native.createDocSession({ nCtx: options.contextSize, nThreads: options.threads, backend: options.backend });
  }

  createSession(options: SessionOptions = {}): Session {
    const nCtx = options.contextSize ?? Math.min(this.info.nCtxTrain || DEFAULT_CONTEXT, DEFAULT_CONTEXT);
    return new Session(this, this.native.createSession({ nCtx, nThreads: options.threads, kvType: options.kvType, backend: options.backend }));
  }
}

export class Session {
  constructor(readonly model: Model, private readonly native: NativeSession) {}

  /** "cpu", or the GPU's name when this session runs there */
  get device(): string {
    return this.native.device();
  }

  /** Generates after `prompt` (text is tokenized with special tokens parsed, BOS as the model wants). */
  async generate(prompt: string | number[], options: GenerateOptions = {}): Promise<GenerateResult> {
    const tokenizer = this.model.tokenizer;
    const promptTokens = typeof prompt === 'string' ? tokenizer.encode(prompt, { addSpecial: true, parseSpecial: true }) : prompt;
    const stopStrings = (options.stop ?? []).filter((s) => s.length > 0);
    const decoder = tokenizer.createStreamDecoder();
    const accepted: number[] = [];
    let text = '';
    let emitted = 0; // text[0, emitted) has gone to onText
    let stoppedByString = false;

    const onAbort = () => this.native.cancel();
    options.signal?.addEventListener('abort', onAbort);
    try {
      const result = await this.native.generate(promptTokens, { ...options, stopTokens: options.ignoreEog ? [] : this.model.eogTokens }, (token) => {
        if (stoppedByString) return; // tokens generated before the cancel took effect
        accepted.push(token);
        text += decoder.push(token);
        const cut = firstStopIndex(text, stopStrings);
        if (cut >= 0) {
          stoppedByString = true;
          text = text.slice(0, cut);
          this.native.cancel();
        }
        // Hold back a tail that could still become a stop string.
        const safe = stoppedByString ? text.length : text.length - longestStopPrefixSuffix(text, stopStrings);
        if (safe > emitted) {
          options.onText?.(text.slice(emitted, safe));
          emitted = safe;
        }
      });
      if (!stoppedByString) {
        text += decoder.flush();
        if (text.length > emitted) options.onText?.(text.slice(emitted));
      }
      const nGenerated = accepted.length;
      return {
        text,
        tokens: accepted,
        stopReason: stoppedByString ? 'stop_string' : result.stopReason,
        timings: {
          nPrompt: result.nPrompt,
          nPromptReused: result.nPromptReused,
          nGenerated,
          prefillMs: result.prefillMs,
          decodeMs: result.decodeMs,
          prefillTokensPerSecond: perSecond(result.nPrompt - result.nPromptReused, result.prefillMs),
          decodeTokensPerSecond: perSecond(Math.max(0, result.tokens.length - 1), result.decodeMs),
        },
      };
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Logits [n_tokens][n_vocab] for every position of `tokens`, from an empty cache. */
  evalLogits(tokens: number[]): Promise<Float32Array> {
    return this.native.evalLogits(tokens);
  }

  cancel(): void {
    this.native.cancel();
  }

  reset(): void {
    this.native.reset();
  }
}

function perSecond(n: number, ms: number): number {
  return ms > 0 ? (n * 1000) / ms : 0;
}

function firstStopIndex(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function longestStopPrefixSuffix(text: string, stops: string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
      if (text.endsWith(s.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}

export function systemInfo() {
  return loadAddon().systemInfo();
}
