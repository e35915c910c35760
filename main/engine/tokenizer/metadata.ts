// The tokenizer's input: the plain values of a GGUF file's `tokenizer.*` keys, validated.
// Where the values come from (the native addon, node-llama-cpp's reader, a test fixture) is
// not this module's business; it only checks that they are what the tokenizer needs.

export interface TokenizerMetadata {
  /** tokenizer.ggml.model: 'gpt2' (byte-level BPE) or 'llama' (SentencePiece) */
  model: string;
  /** tokenizer.ggml.pre: pre-tokenizer name for BPE models ('llama-bpe', 'qwen2', 'smollm', ...) */
  pre?: string;
  /** tokenizer.ggml.tokens: [n_vocab] token texts */
  tokens: string[];
  /** tokenizer.ggml.token_type: [n_vocab] llama_token_type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) */
  tokenType?: number[];
  /** tokenizer.ggml.merges: [n_merges] "left right", in rank order (BPE only) */
  merges?: string[];
  /** tokenizer.ggml.scores: [n_vocab] merge scores (SentencePiece) */
  scores?: number[];
  bosId?: number;
  eosId?: number;
  eotId?: number;
  eomId?: number;
  unknownId?: number;
  paddingId?: number;
  addBosToken?: boolean;
  addEosToken?: boolean;
  addSpacePrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  chatTemplate?: string;
}

export class TokenizerMetadataError extends Error {
  readonly code = 'TOKENIZER_BAD_METADATA';
  constructor(readonly key: string, message: string) {
    super(`${key}: ${message}`);
    this.name = 'TokenizerMetadataError';
  }
}

type RawKv = Map<string, unknown> | Record<string, unknown>;

const ID_KEYS = {
  bosId: 'tokenizer.ggml.bos_token_id',
  eosId: 'tokenizer.ggml.eos_token_id',
  eotId: 'tokenizer.ggml.eot_token_id',
  eomId: 'tokenizer.ggml.eom_token_id',
  unknownId: 'tokenizer.ggml.unknown_token_id',
  paddingId: 'tokenizer.ggml.padding_token_id',
} as const;

const FLAG_KEYS = {
  addBosToken: 'tokenizer.ggml.add_bos_token',
  addEosToken: 'tokenizer.ggml.add_eos_token',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
  removeExtraWhitespaces: 'tokenizer.ggml.remove_extra_whitespaces',
} as const;

/**
 * Validates raw GGUF key/values into TokenizerMetadata. Keys are the flat GGUF names
 * ('tokenizer.ggml.tokens'); nested objects as node-llama-cpp's readGgufFileInfo returns them
 * ({ tokenizer: { ggml: { tokens } } }) are flattened first. Throws TokenizerMetadataError
 * (code 'TOKENIZER_BAD_METADATA') naming the offending key.
 */
export function tokenizerMetadataFromKv(kv: RawKv): TokenizerMetadata {
  const flat = flatten(kv);
  const model = readString(flat, 'tokenizer.ggml.model', true)!;
  const tokens = readStringArray(flat, 'tokenizer.ggml.tokens', true)!;
  if (tokens.length === 0) throw new TokenizerMetadataError('tokenizer.ggml.tokens', 'is empty');
  const nVocab = tokens.length;

  const meta: TokenizerMetadata = { model, tokens };
  const pre = readString(flat, 'tokenizer.ggml.pre', false);
  if (pre !== undefined) meta.pre = pre;

  const tokenType = readNumberArray(flat, 'tokenizer.ggml.token_type', true);
  if (tokenType) {
    checkLength('tokenizer.ggml.token_type', tokenType.length, nVocab);
    meta.tokenType = tokenType;
  }
  const scores = readNumberArray(flat, 'tokenizer.ggml.scores', false);
  if (scores) {
    checkLength('tokenizer.ggml.scores', scores.length, nVocab);
    meta.scores = scores;
  }
  const merges = readStringArray(flat, 'tokenizer.ggml.merges', false);
  if (merges) meta.merges = merges;
  if (model === 'gpt2' && !merges) {
    throw new TokenizerMetadataError('tokenizer.ggml.merges', 'is required for a gpt2 (BPE) tokenizer');
  }

  for (const [field, key] of Object.entries(ID_KEYS) as Array<[keyof typeof ID_KEYS, string]>) {
    const value = flat.get(key);
    if (value === undefined) continue;
    if (typeof value !== 'number' && typeof value !== 'bigint') {
      throw new TokenizerMetadataError(key, `expected an integer, got ${describe(value)}`);
    }
    const id = Number(value);
    if (!Number.isInteger(id) || id < 0 || id >= nVocab) {
      throw new TokenizerMetadataError(key, `token id ${String(value)} is outside the vocabulary [0, ${nVocab})`);
    }
    meta[field] = id;
  }
  for (const [field, key] of Object.entries(FLAG_KEYS) as Array<[keyof typeof FLAG_KEYS, string]>) {
    const value = flat.get(key);
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new TokenizerMetadataError(key, `expected a boolean, got ${describe(value)}`);
    meta[field] = value;
  }
  const template = readString(flat, 'tokenizer.chat_template', false);
  if (template !== undefined) meta.chatTemplate = template;
  return meta;
}

function flatten(kv: RawKv): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const visit = (prefix: string, value: unknown): void => {
    if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) visit(prefix ? `${prefix}.${k}` : k, v);
    } else {
      out.set(prefix, value);
    }
  };
  const entries = kv instanceof Map ? kv.entries() : Object.entries(kv);
  for (const [k, v] of entries) visit(k, v);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function readString(flat: Map<string, unknown>, key: string, required: boolean): string | undefined {
  const value = flat.get(key);
  if (value === undefined) {
    if (required) throw new TokenizerMetadataError(key, 'is missing');
    return undefined;
  }
  if (typeof value !== 'string') throw new TokenizerMetadataError(key, `expected a string, got ${describe(value)}`);
  return value;
}

function readStringArray(flat: Map<string, unknown>, key: string, required: boolean): string[] | undefined {
  const value = flat.get(key);
  if (value === undefined) {
    if (required) throw new TokenizerMetadataError(key, 'is missing');
    return undefined;
  }
  if (!Array.isArray(value)) throw new TokenizerMetadataError(key, `expected an array of strings, got ${describe(value)}`);
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string') {
      throw new TokenizerMetadataError(key, `element ${i} is ${describe(value[i])}, expected a string`);
    }
  }
  return value as string[];
}

function readNumberArray(flat: Map<string, unknown>, key: string, integers: boolean): number[] | undefined {
  const value = flat.get(key);
  if (value === undefined) return undefined;
  const isTyped = ArrayBuffer.isView(value) && !(value instanceof DataView);
  if (!Array.isArray(value) && !isTyped) {
    throw new TokenizerMetadataError(key, `expected an array of numbers, got ${describe(value)}`);
  }
  const arr = Array.from(value as ArrayLike<unknown>);
  const out = new Array<number>(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || Number.isNaN(n) || (integers && !Number.isInteger(n))) {
      throw new TokenizerMetadataError(key, `element ${i} is ${describe(v)}, expected ${integers ? 'an integer' : 'a number'}`);
    }
    out[i] = n;
  }
  return out;
}

function checkLength(key: string, length: number, nVocab: number): void {
  if (length !== nVocab) {
    throw new TokenizerMetadataError(key, `has ${length} entries but tokenizer.ggml.tokens has ${nVocab}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${typeof value === 'object' ? '' : String(value)}`.trim();
}
