// Random-weight GGUF models of any llama/qwen2 shape and weight type, for tests and benchmarks.
//
// Scales keep activations O(1): a matrix with fan-in n gets element rms 1/sqrt(n), norm weights are
// ~1, token embedding rows have norm ~1 (so the layers dominate the residual stream and the output
// depends on the whole context, not just the last token), and the logits get a standard deviation
// of LOGIT_STD so the next-token distribution is peaked. Quantized tensors are random
// valid blocks (random quants, f16 scales chosen so the dequantized rms matches): no quantizer needed.
// Every tensor is generated from its own stream seeded by (seed, tensor name), so changing one
// tensor's type or shape leaves the others' values unchanged.
import { GGML_TYPE, type GgufTensorSpec, type GgufValue, readTokenizerMetadata, writeGguf } from './gguf-writer.ts';
import { smollm2Path } from './models.ts';

export type WeightType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';
export const WEIGHT_TYPES: readonly WeightType[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K'];

export interface RandomModelSpec {
  arch: 'llama' | 'qwen2';
  nLayers: number;
  nEmbd: number;
  nFf: number;
  nHeads: number;
  nKvHeads: number;
  /** defaults to nEmbd / nHeads; written as attention.key_length/value_length (llama only may differ) */
  headDim?: number;
  nCtxTrain: number;
  /** defaults to 10000 (llama) or 1000000 (qwen2) */
  ropeFreqBase?: number;
  /** write rope_freqs.weight [headDim/2] with Llama-3.1's factors (factor 8, low 1, high 4, original context 8192) */
  ropeFreqs?: boolean;
  /** no output.weight: llama.cpp then uses token_embd as the output matrix */
  tiedOutput?: boolean;
  weightType: WeightType;
  /** type of token_embd (and of output when untied); defaults to weightType */
  embdType?: WeightType;
  seed: number;
  /** tokenizer.* keys; defaults to SmolLM2-135M's vocabulary (49152 tokens) */
  vocab?: Array<[string, GgufValue]>;
}

export interface RandomModelInfo {
  nVocab: number;
  headDim: number;
  tensorCount: number;
}

/** Standard deviation of the logits over the vocabulary. Measured with llama.cpp on tiny models (4
 * models x 64 positions): top-1 margin median 1.15 nats (3% of positions under 0.05), entropy
 * median 1.6 nats, top-1 probability median 0.53 — peaked like a real LM, rarely a near-tie. */
export const LOGIT_STD = 6;

const FILE_TYPE: Record<WeightType, number> = { // llama_ftype
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, Q4_K: 15, Q5_K: 17, Q6_K: 18, BF16: 32,
};

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/** Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = (q: number): number =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const NORMAL_TABLE = Float64Array.from({ length: 65536 }, (_, i) => normalQuantile((i + 0.5) / 65536));

/** xoshiro128** seeded through splitmix32 from a seed and a label. */
class Rng {
  private a: number; private b: number; private c: number; private d: number;
  private spare: number | undefined;

  constructor(seed: number, label: string) {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    const next = (): number => {
      h = (h + 0x9e3779b9) >>> 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next(); this.b = next(); this.c = next(); this.d = next() | 1;
  }

  u32(): number {
    const r = Math.imul(((Math.imul(this.b, 5) << 7) | (Math.imul(this.b, 5) >>> 25)), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return r;
  }

  /** uniform in [0, 1) */
  float(): number { return this.u32() / 4294967296; }

  /** uniform integer in [lo, hi] */
  int(lo: number, hi: number): number { return lo + Math.floor(this.float() * (hi - lo + 1)); }

  sign(): number { return this.u32() & 1 ? -1 : 1; }

  /** standard normal, quantized to 65536 levels (two draws per u32): plenty for random weights, and fast */
  normal(): number {
    if (this.spare !== undefined) { const s = this.spare; this.spare = undefined; return s; }
    const u = this.u32();
    this.spare = NORMAL_TABLE[u >>> 16];
    return NORMAL_TABLE[u & 0xffff];
  }

  fill(words: Uint32Array): void { for (let i = 0; i < words.length; i++) words[i] = this.u32(); }
}

// ---------------------------------------------------------------------------------------------
// Float encodings (round to nearest even, as ggml)

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f32ToF16(f: number): number {
  f32Scratch[0] = f;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs < 0x38800000) {
    if (abs < 0x33000000) return sign;
    const m = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - (abs >>> 23);
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let h = (abs - 0x38000000) >>> 13;
  const rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

function f32ToBf16(f: number): number {
  f32Scratch[0] = f;
  const u = u32Scratch[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------------------------
// Block encoders: each fills `nBlocks` random valid blocks whose dequantized values have rms ~sigma.

interface BlockFormat { blockSize: number; blockBytes: number; fill(bytes: Uint8Array, nBlocks: number, sigma: number, rng: Rng): void }

/** d spread over [0.75, 1.25] of its nominal value (E[d^2] is within 2% of nominal^2). */
function jitter(rng: Rng): number { return 0.75 + 0.5 * rng.float(); }

// The constants K below are rms(dequantized value) / d for the quant distributions used, so d = sigma / K.

/** Q4_0: {f16 d; u8 qs[16]}, w = d * (q - 8). Real quantizers give either sign of d. K = sqrt(E[(q-8)^2]) = sqrt(21.5). */
const Q4_0: BlockFormat = {
  blockSize: 32, blockBytes: 18,
  fill(bytes, n, sigma, rng) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n * 9);
    for (let b = 0; b < n; b++) h[b * 9] = f32ToF16(rng.sign() * jitter(rng) * sigma / Math.sqrt(21.5));
  },
};

/** Q4_1: {f16 d; f16 m; u8 qs[16]}, w = d * q + m with m ~ -7.5 d so blocks are roughly zero-mean. */
const Q4_1: BlockFormat = {
  blockSize: 32, blockBytes: 20,
  fill(bytes, n, sigma, rng) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n * 10);
    for (let b = 0; b < n; b++) {
      const d = jitter(rng) * sigma / Math.sqrt(21.25 + 1 / 3);
      h[b * 10] = f32ToF16(d);
      h[b * 10 + 1] = f32ToF16(d * (-7.5 + 2 * rng.float() - 1));
    }
  },
};

/** Q5_0: {f16 d; u8 qh[4]; u8 qs[16]}, w = d * (q - 16), q 5-bit. K = sqrt(85.5). */
const Q5_0: BlockFormat = {
  blockSize: 32, blockBytes: 22,
  fill(bytes, n, sigma, rng) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n * 11);
    for (let b = 0; b < n; b++) h[b * 11] = f32ToF16(rng.sign() * jitter(rng) * sigma / Math.sqrt(85.5));
  },
};

/** Q5_1: {f16 d; f16 m; u8 qh[4]; u8 qs[16]}, w = d * q + m, m ~ -15.5 d. */
const Q5_1: BlockFormat = {
  blockSize: 32, blockBytes: 24,
  fill(bytes, n, sigma, rng) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n * 12);
    for (let b = 0; b < n; b++) {
      const d = jitter(rng) * sigma / Math.sqrt(85.25 + 1 / 3);
      h[b * 12] = f32ToF16(d);
      h[b * 12 + 1] = f32ToF16(d * (-15.5 + 2 * rng.float() - 1));
    }
  },
};

/** Q8_0: {f16 d; i8 qs[32]}, w = d * q. Quantizers emit q in [-127, 127], never -128 (SIMD paths
 * that take |q| rely on it), so -128 is remapped. K = sqrt(127 * 128 / 3). */
const Q8_0: BlockFormat = {
  blockSize: 32, blockBytes: 34,
  fill(bytes, n, sigma, rng) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n * 17);
    for (let b = 0; b < n; b++) {
      h[b * 17] = f32ToF16(rng.sign() * jitter(rng) * sigma / Math.sqrt((127 * 128) / 3));
      for (let i = b * 34 + 2; i < b * 34 + 34; i++) if (bytes[i] === 0x80) bytes[i] = 0x81;
    }
  },
};

/** Packs 8 six-bit scales and mins into the 12 bytes of Q4_K/Q5_K (inverse of ggml's get_scale_min_k4). */
function packScalesK4(bytes: Uint8Array, at: number, sc: number[], m: number[]): void {
  for (let j = 0; j < 4; j++) {
    bytes[at + j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
    bytes[at + j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6);
    bytes[at + j + 8] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4);
  }
}

/** Q4_K/Q5_K: {f16 d; f16 dmin; u8 scales[12]; [u8 qh[32];] u8 qs[128]}, w = d*sc*q - dmin*m per
 * 32-element sub-block. sc in [32, 63]; dmin = qMid * d and m = sc +- 4 keep sub-blocks near
 * zero-mean, as a quantizer's mins would. */
function kQuantAsym(blockBytes: number, qMid: number, qVar: number): BlockFormat {
  // E[sc^2] for sc uniform in [32, 63] is 2341.5; E[(m - sc)^2] ~ 20/3.
  const k = Math.sqrt(2341.5 * qVar + qMid * qMid * (20 / 3));
  return {
    blockSize: 256, blockBytes,
    fill(bytes, n, sigma, rng) {
      const h = new Uint16Array(bytes.buffer, bytes.byteOffset, (n * blockBytes) / 2);
      const sc = new Array<number>(8);
      const m = new Array<number>(8);
      for (let b = 0; b < n; b++) {
        const d = jitter(rng) * sigma / k;
        h[(b * blockBytes) / 2] = f32ToF16(d);
        h[(b * blockBytes) / 2 + 1] = f32ToF16(qMid * d);
        for (let j = 0; j < 8; j++) {
          sc[j] = rng.int(32, 63);
          m[j] = Math.min(63, Math.max(0, sc[j] + rng.int(-4, 4)));
        }
        packScalesK4(bytes, b * blockBytes + 4, sc, m);
      }
    },
  };
}

const Q4_K = kQuantAsym(144, 7.5, 21.25);
const Q5_K = kQuantAsym(176, 15.5, 85.25);

/** Q6_K: {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}, w = d * sc * (q - 32), |sc| in [64, 127]. */
const Q6_K: BlockFormat = {
  blockSize: 256, blockBytes: 210,
  fill(bytes, n, sigma, rng) {
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n * 105);
    const k = Math.sqrt(9461.5 * 341.5); // E[sc^2] * E[(q-32)^2]
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < 16; j++) bytes[b * 210 + 192 + j] = (rng.sign() * rng.int(64, 127)) & 0xff;
      h[b * 105 + 104] = f32ToF16(jitter(rng) * sigma / k);
    }
  },
};

const BLOCK_FORMATS: Partial<Record<WeightType, BlockFormat>> = { Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K };

/** Encodes n values drawn by `value` as F32/F16/BF16 bytes. */
function encodeFloats(type: 'F32' | 'F16' | 'BF16', n: number, value: () => number): Uint8Array {
  if (type === 'F32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = value();
    return new Uint8Array(out.buffer);
  }
  const out = new Uint16Array(n);
  const enc = type === 'F16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < n; i++) out[i] = enc(value());
  return new Uint8Array(out.buffer);
}

// Tensors are produced in chunks of about this many elements so huge ones never sit in memory whole.
const CHUNK_ELEMENTS = 1 << 22;

/** A 2-D weight [rows][rowLen] of rms `sigma`, streamed in row chunks. */
function randomMatrix(name: string, type: WeightType, rowLen: number, rows: number, sigma: number, seed: number): GgufTensorSpec {
  const format = BLOCK_FORMATS[type];
  if (format && rowLen % format.blockSize !== 0) {
    throw new Error(`${name}: row length ${rowLen} is not a multiple of ${type}'s block size ${format.blockSize}`);
  }
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowLen));
  return {
    name, type: GGML_TYPE[type], shape: [rowLen, rows],
    data: (write) => {
      const rng = new Rng(seed, name);
      for (let r = 0; r < rows; r += rowsPerChunk) {
        const n = Math.min(rowsPerChunk, rows - r) * rowLen;
        if (format) {
          const nBlocks = n / format.blockSize;
          const words = new Uint32Array(Math.ceil((nBlocks * format.blockBytes) / 4));
          rng.fill(words);
          const bytes = new Uint8Array(words.buffer, 0, nBlocks * format.blockBytes);
          format.fill(bytes, nBlocks, sigma, rng);
          write(bytes);
        } else {
          write(encodeFloats(type as 'F32' | 'F16' | 'BF16', n, () => sigma * rng.normal()));
        }
      }
    },
  };
}

/** A 1-D F32 tensor (norms, biases, rope factors), as real files store them. */
function f32Vector(name: string, values: Float32Array): GgufTensorSpec {
  return { name, type: GGML_TYPE.F32, shape: [values.length], data: new Uint8Array(values.buffer) };
}

function randomVector(name: string, n: number, mean: number, sd: number, seed: number): GgufTensorSpec {
  const rng = new Rng(seed, name);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = mean + sd * rng.normal();
  return f32Vector(name, v);
}

/** Llama-3.1 rope scaling factors per rotary frequency, as convert_hf_to_gguf.py writes rope_freqs. */
export function llama31RopeFactors(headDim: number, freqBase: number): Float32Array {
  const factor = 8, lowFreqFactor = 1, highFreqFactor = 4, oldContext = 8192;
  const lowFreqWavelen = oldContext / lowFreqFactor;
  const highFreqWavelen = oldContext / highFreqFactor;
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < headDim / 2; i++) {
    const wavelen = (2 * Math.PI) / (1 / freqBase ** ((2 * i) / headDim));
    if (wavelen < highFreqWavelen) out[i] = 1;
    else if (wavelen > lowFreqWavelen) out[i] = factor;
    else {
      const smooth = (oldContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

function checkSpec(s: RandomModelSpec, headDim: number): void {
  const ints: Array<[string, number]> = [['nLayers', s.nLayers], ['nEmbd', s.nEmbd], ['nFf', s.nFf], ['nHeads', s.nHeads],
    ['nKvHeads', s.nKvHeads], ['headDim', headDim], ['nCtxTrain', s.nCtxTrain]];
  for (const [k, v] of ints) if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} must be a positive integer, got ${v}`);
  if (s.nHeads % s.nKvHeads !== 0) throw new Error(`nHeads ${s.nHeads} is not a multiple of nKvHeads ${s.nKvHeads}`);
  if (headDim % 2 !== 0) throw new Error(`headDim ${headDim} must be even for RoPE`);
  if (!WEIGHT_TYPES.includes(s.weightType)) throw new Error(`unknown weight type ${String(s.weightType)}`);
  if (s.arch === 'qwen2' && headDim * s.nHeads !== s.nEmbd) {
    throw new Error(`qwen2 needs headDim * nHeads = nEmbd (llama.cpp's qwen2 ignores key_length), got ${headDim} * ${s.nHeads}`);
  }
  if (s.ropeFreqs && s.arch !== 'llama') throw new Error(`rope_freqs is a llama tensor: llama.cpp's ${s.arch} loader rejects it`);
  if (s.embdType && !WEIGHT_TYPES.includes(s.embdType)) throw new Error(`unknown embedding type ${String(s.embdType)}`);
}

/** Writes a random-weight model with llama.cpp's tensor names, shapes and metadata keys. */
export async function makeRandomModel(path: string, spec: RandomModelSpec): Promise<RandomModelInfo> {
  const headDim = spec.headDim ?? spec.nEmbd / spec.nHeads;
  checkSpec(spec, headDim);
  const vocab = spec.vocab ?? await readTokenizerMetadata(smollm2Path());
  const tokens = vocab.find(([k]) => k === 'tokenizer.ggml.tokens');
  if (!tokens || tokens[1].type !== 'array') throw new Error('vocab has no tokenizer.ggml.tokens array');
  const nVocab = tokens[1].value.length;

  const { arch, nEmbd, nFf, seed } = spec;
  const nQ = spec.nHeads * headDim;
  const nKv = spec.nKvHeads * headDim;
  const wt = spec.weightType;
  const et = spec.embdType ?? wt;
  const freqBase = spec.ropeFreqBase ?? (arch === 'qwen2' ? 1e6 : 1e4);
  const quantized = !['F32', 'F16', 'BF16'].includes(wt) || !['F32', 'F16', 'BF16'].includes(et);

  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufValue => ({ type: 'f32', value });
  const metadata: Array<[string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: `random ${arch} ${spec.nLayers}x${nEmbd} ${wt} seed ${seed}` }],
    ['general.file_type', u32(FILE_TYPE[wt])],
    ...(quantized ? [['general.quantization_version', u32(2)] as [string, GgufValue]] : []),
    [`${arch}.block_count`, u32(spec.nLayers)],
    [`${arch}.context_length`, u32(spec.nCtxTrain)],
    [`${arch}.embedding_length`, u32(nEmbd)],
    [`${arch}.feed_forward_length`, u32(nFf)],
    [`${arch}.attention.head_count`, u32(spec.nHeads)],
    [`${arch}.attention.head_count_kv`, u32(spec.nKvHeads)],
    [`${arch}.attention.key_length`, u32(headDim)],
    [`${arch}.attention.value_length`, u32(headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(arch === 'qwen2' ? 1e-6 : 1e-5)],
    [`${arch}.rope.freq_base`, f32(freqBase)],
    [`${arch}.rope.dimension_count`, u32(headDim)],
    [`${arch}.vocab_size`, u32(nVocab)],
    ...vocab,
  ];

  // Token embeddings have rms 1/sqrt(nEmbd) (unit-norm rows), so the layers, not the current token,
  // dominate the residual stream: with a tied output, a larger embedding makes every position predict
  // its own token by a wide margin (the self dot product grows like nEmbd * rms^2).
  // Logit std = output_norm weight * rms(output row) * sqrt(nEmbd), as the normed state has rms 1.
  const embdRms = 1 / Math.sqrt(nEmbd);
  const tensors: GgufTensorSpec[] = [randomMatrix('token_embd.weight', et, nEmbd, nVocab, embdRms, seed)];
  if (spec.ropeFreqs) tensors.push(f32Vector('rope_freqs.weight', llama31RopeFactors(headDim, freqBase)));
  const outputRms = spec.tiedOutput ? embdRms : 1 / Math.sqrt(nEmbd);
  tensors.push(randomVector('output_norm.weight', nEmbd, LOGIT_STD / (outputRms * Math.sqrt(nEmbd)), 0.1 * LOGIT_STD, seed));
  if (!spec.tiedOutput) tensors.push(randomMatrix('output.weight', et, nEmbd, nVocab, outputRms, seed));
  for (let i = 0; i < spec.nLayers; i++) {
    const p = `blk.${i}.`;
    tensors.push(randomVector(`${p}attn_norm.weight`, nEmbd, 1, 0.1, seed));
    tensors.push(randomMatrix(`${p}attn_q.weight`, wt, nEmbd, nQ, 1 / Math.sqrt(nEmbd), seed));
    tensors.push(randomMatrix(`${p}attn_k.weight`, wt, nEmbd, nKv, 1 / Math.sqrt(nEmbd), seed));
    tensors.push(randomMatrix(`${p}attn_v.weight`, wt, nEmbd, nKv, 1 / Math.sqrt(nEmbd), seed));
    if (arch === 'qwen2') {
      tensors.push(randomVector(`${p}attn_q.bias`, nQ, 0, 0.5, seed));
      tensors.push(randomVector(`${p}attn_k.bias`, nKv, 0, 0.5, seed));
      tensors.push(randomVector(`${p}attn_v.bias`, nKv, 0, 0.5, seed));
    }
    tensors.push(randomMatrix(`${p}attn_output.weight`, wt, nQ, nEmbd, 1 / Math.sqrt(nQ), seed));
    tensors.push(randomVector(`${p}ffn_norm.weight`, nEmbd, 1, 0.1, seed));
    tensors.push(randomMatrix(`${p}ffn_gate.weight`, wt, nEmbd, nFf, 1 / Math.sqrt(nEmbd), seed));
    tensors.push(randomMatrix(`${p}ffn_up.weight`, wt, nEmbd, nFf, 1 / Math.sqrt(nEmbd), seed));
    // silu(gate) * up has rms ~0.5 for unit-rms inputs; the factor 2 restores an O(1) contribution.
    tensors.push(randomMatrix(`${p}ffn_down.weight`, wt, nFf, nEmbd, 2 / Math.sqrt(nFf), seed));
  }

  writeGguf(path, { metadata, tensors });
  return { nVocab, headDim, tensorCount: tensors.length };
}
