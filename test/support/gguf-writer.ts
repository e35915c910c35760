// GGUF writer (and a small typed metadata reader) for tests and generated models.
//
// Layout written (little-endian, GGUF v2 and v3 are identical on little-endian machines):
//   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv   x { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   zero padding to `alignment`, then each tensor's bytes at its offset (offsets are multiples of
//   `alignment`, relative to the start of the data section), zero padded in between.
// A string is u64 byte length + UTF-8 bytes (no terminator); an array is u32 item type + u64 count
// + items. `general.alignment` (u32) overrides the default alignment of 32.
import { closeSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64' | 'bool' | 'string';
export type GgufValue =
  | { type: GgufScalarType; value: number | bigint | boolean | string }
  | { type: 'array'; itemType: GgufScalarType; value: Array<number | bigint | boolean | string> };

export interface GgufTensorSpec {
  name: string;
  /** ggml type id: F32=0 F16=1 Q4_0=2 Q4_1=3 Q5_0=6 Q5_1=7 Q8_0=8 Q4_K=12 Q5_K=13 Q6_K=14 BF16=30 */
  type: number;
  /** ne order: shape[0] is the contiguous row length */
  shape: number[];
  /** the tensor's bytes, or a generator that writes them in chunks (for tensors too big for one buffer) */
  data: Uint8Array | ((write: (chunk: Uint8Array) => void) => void);
}

export interface GgufSpec {
  metadata: Array<[string, GgufValue]>;
  tensors: GgufTensorSpec[];
  version?: 2 | 3;
  alignment?: number;
}

/** ggml type ids of the types the engine reads (numbering of ggml.h). */
export const GGML_TYPE = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q8_1: 9,
  Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, Q8_K: 15,
  I8: 24, I16: 25, I32: 26, I64: 27, F64: 28, BF16: 30,
} as const;

// [type id] -> [elements per block, bytes per block]
const TYPE_BLOCKS: Record<number, [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 30: [1, 2],
};

const VALUE_TYPE_IDS: Record<GgufScalarType | 'array', number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};
const VALUE_TYPE_NAMES = Object.fromEntries(Object.entries(VALUE_TYPE_IDS).map(([k, v]) => [v, k])) as
  Record<number, GgufScalarType | 'array'>;

const DEFAULT_ALIGNMENT = 32;

if (endianness() !== 'LE') throw new Error('gguf-writer: only little-endian hosts are supported');

/** Bytes of a tensor of a known ggml type; throws when shape[0] is not a whole number of blocks. */
export function ggmlTensorBytes(type: number, shape: number[]): number {
  const blocks = TYPE_BLOCKS[type];
  if (!blocks) throw new Error(`unknown ggml type ${type}`);
  const [blockSize, blockBytes] = blocks;
  if (shape.length === 0 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new Error(`bad shape [${shape.join(', ')}]`);
  }
  if (shape[0] % blockSize !== 0) {
    throw new Error(`row length ${shape[0]} is not a multiple of the block size ${blockSize} of type ${type}`);
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  return (elements / blockSize) * blockBytes;
}

/** Growable little-endian byte buffer for the header. */
class HeaderBuilder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  u64(v: number | bigint): void { this.reserve(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: number | bigint): void { this.reserve(8); this.view.setBigInt64(this.length, BigInt(v), true); this.length += 8; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
  string(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.bytes(b); }
  pad(alignment: number): void { const n = (alignment - (this.length % alignment)) % alignment; this.reserve(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  contents(): Uint8Array { return this.buf.subarray(0, this.length); }
}

function checkedInt(key: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new Error(`metadata ${key}: ${String(v)} does not fit the declared type`);
  }
  return v;
}

function checkedFloat(key: string, v: unknown): number {
  if (typeof v !== 'number') throw new Error(`metadata ${key}: ${String(v)} is not a number`);
  return v;
}

function checkedBigint(key: string, v: unknown, signed: boolean): bigint {
  const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
  const lo = signed ? -(1n << 63n) : 0n;
  const hi = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
  if (b === undefined || b < lo || b > hi) throw new Error(`metadata ${key}: ${String(v)} does not fit the declared type`);
  return b;
}

function writeScalar(h: HeaderBuilder, key: string, type: GgufScalarType, v: unknown): void {
  switch (type) {
    case 'u8': return h.u8(checkedInt(key, v, 0, 0xff));
    case 'i8': return h.i8(checkedInt(key, v, -0x80, 0x7f));
    case 'u16': return h.u16(checkedInt(key, v, 0, 0xffff));
    case 'i16': return h.i16(checkedInt(key, v, -0x8000, 0x7fff));
    case 'u32': return h.u32(checkedInt(key, v, 0, 0xffffffff));
    case 'i32': return h.i32(checkedInt(key, v, -0x80000000, 0x7fffffff));
    case 'u64': return h.u64(checkedBigint(key, v, false));
    case 'i64': return h.i64(checkedBigint(key, v, true));
    case 'f32': return h.f32(checkedFloat(key, v));
    case 'f64': return h.f64(checkedFloat(key, v));
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`metadata ${key}: ${String(v)} is not a boolean`);
      return h.u8(v ? 1 : 0);
    case 'string':
      if (typeof v !== 'string') throw new Error(`metadata ${key}: ${String(v)} is not a string`);
      return h.string(v);
    default:
      throw new Error(`metadata ${key}: unknown type ${String(type)}`);
  }
}

function writeValue(h: HeaderBuilder, key: string, value: GgufValue): void {
  h.u32(VALUE_TYPE_IDS[value.type]);
  if (value.type === 'array') {
    h.u32(VALUE_TYPE_IDS[value.itemType]);
    h.u64(value.value.length);
    for (const item of value.value) writeScalar(h, key, value.itemType, item);
  } else {
    writeScalar(h, key, value.type, value.value);
  }
}

/** Resolves the alignment from the option and `general.alignment`, which must agree if both are set. */
function resolveAlignment(spec: GgufSpec): { alignment: number; metadata: Array<[string, GgufValue]> } {
  const entry = spec.metadata.find(([k]) => k === 'general.alignment');
  const fromMetadata = entry ? Number(entry[1].value) : undefined;
  if (spec.alignment !== undefined && fromMetadata !== undefined && spec.alignment !== fromMetadata) {
    throw new Error(`alignment ${spec.alignment} disagrees with general.alignment ${fromMetadata}`);
  }
  const alignment = spec.alignment ?? fromMetadata ?? DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new Error(`alignment ${alignment} is not a power of two`);
  }
  const metadata = entry || alignment === DEFAULT_ALIGNMENT
    ? spec.metadata
    : [...spec.metadata, ['general.alignment', { type: 'u32', value: alignment }] as [string, GgufValue]];
  return { alignment, metadata };
}

function tensorBytes(t: GgufTensorSpec): number {
  if (TYPE_BLOCKS[t.type]) return ggmlTensorBytes(t.type, t.shape);
  // Unknown type ids are allowed with literal bytes so tests can write files the engine must reject.
  if (t.data instanceof Uint8Array) return t.data.length;
  throw new Error(`tensor ${t.name}: unknown ggml type ${t.type} needs its data as bytes`);
}

/** Buffers small writes so multi-GB tensors stream to disk in large sequential writes. */
class FileSink {
  private buf = Buffer.allocUnsafe(1 << 22);
  private used = 0;
  written = 0;
  constructor(private readonly fd: number) {}

  write(chunk: Uint8Array): void {
    if (chunk.length >= this.buf.length) {
      this.flush();
      writeSync(this.fd, chunk);
    } else {
      if (this.used + chunk.length > this.buf.length) this.flush();
      this.buf.set(chunk, this.used);
      this.used += chunk.length;
    }
    this.written += chunk.length;
  }

  zeros(n: number): void { if (n > 0) this.write(new Uint8Array(n)); }

  flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }
}

/** Writes a GGUF file. Tensor data is checked against each tensor's type and shape. */
export function writeGguf(path: string, spec: GgufSpec): void {
  const version = spec.version ?? 3;
  if (version !== 2 && version !== 3) throw new Error(`GGUF version ${String(version)} is not writable (2 or 3)`);
  const { alignment, metadata } = resolveAlignment(spec);

  const h = new HeaderBuilder();
  h.bytes(Buffer.from('GGUF', 'ascii'));
  h.u32(version);
  h.u64(spec.tensors.length);
  h.u64(metadata.length);
  for (const [key, value] of metadata) {
    h.string(key);
    writeValue(h, key, value);
  }
  const sizes = spec.tensors.map(tensorBytes);
  let offset = 0;
  spec.tensors.forEach((t, i) => {
    h.string(t.name);
    h.u32(t.shape.length);
    for (const d of t.shape) h.u64(d);
    h.u32(t.type);
    h.u64(offset);
    offset += Math.ceil(sizes[i] / alignment) * alignment;
  });
  h.pad(alignment);

  const fd = openSync(path, 'w');
  let complete = false;
  try {
    const sink = new FileSink(fd);
    sink.write(h.contents());
    spec.tensors.forEach((t, i) => {
      const start = sink.written;
      if (t.data instanceof Uint8Array) sink.write(t.data);
      else t.data((chunk) => sink.write(chunk));
      const got = sink.written - start;
      if (got !== sizes[i]) throw new Error(`tensor ${t.name}: got ${got} bytes, its type and shape need ${sizes[i]}`);
      sink.zeros((alignment - (got % alignment)) % alignment);
    });
    sink.flush();
    complete = true;
  } finally {
    closeSync(fd);
    // Leave no half-written model behind for a later test to trip over.
    if (!complete) rmSync(path, { force: true });
  }
}

/** Sequential reader over a file descriptor, reading ahead in large chunks. */
class FileCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  private readonly size: number;
  constructor(private readonly fd: number, private readonly path: string) { this.size = fstatSync(fd).size; }

  private need(n: number): Buffer {
    if (this.pos + n > this.size) throw new Error(`${this.path}: truncated GGUF header at byte ${this.pos}`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      this.buf = Buffer.alloc(len);
      readSync(this.fd, this.buf, 0, len, this.pos);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  u8(): number { return this.need(1).readUInt8(0); }
  u32(): number { return this.need(4).readUInt32LE(0); }
  u64(): bigint { return this.need(8).readBigUInt64LE(0); }
  count(what: string): number {
    const n = this.u64();
    if (n > BigInt(this.size)) throw new Error(`${this.path}: ${what} ${n} exceeds the file size`);
    return Number(n);
  }
  string(): string { return this.need(this.count('string length')).toString('utf8'); }

  scalar(type: GgufScalarType): number | bigint | boolean | string {
    switch (type) {
      case 'u8': return this.u8();
      case 'i8': return this.need(1).readInt8(0);
      case 'u16': return this.need(2).readUInt16LE(0);
      case 'i16': return this.need(2).readInt16LE(0);
      case 'u32': return this.u32();
      case 'i32': return this.need(4).readInt32LE(0);
      case 'u64': return this.u64();
      case 'i64': return this.need(8).readBigInt64LE(0);
      case 'f32': return this.need(4).readFloatLE(0);
      case 'f64': return this.need(8).readDoubleLE(0);
      case 'bool': return this.u8() !== 0;
      case 'string': return this.string();
    }
  }
}

function valueType(cur: FileCursor, path: string, key: string): GgufScalarType | 'array' {
  const id = cur.u32();
  const name = VALUE_TYPE_NAMES[id];
  if (!name) throw new Error(`${path}: metadata ${key} has unknown value type ${id}`);
  return name;
}

/** Reads every metadata key of a GGUF file with its declared type. */
export function readGgufMetadata(ggufPath: string): Array<[string, GgufValue]> {
  const fd = openSync(ggufPath, 'r');
  try {
    const cur = new FileCursor(fd, ggufPath);
    const magic = cur.u32();
    if (magic !== 0x46554747) throw new Error(`${ggufPath}: not a GGUF file`);
    const version = cur.u32();
    if (version !== 2 && version !== 3) throw new Error(`${ggufPath}: unsupported GGUF version ${version}`);
    cur.count('tensor count');
    const nKv = cur.count('metadata count');
    const out: Array<[string, GgufValue]> = [];
    for (let i = 0; i < nKv; i++) {
      const key = cur.string();
      const type = valueType(cur, ggufPath, key);
      if (type === 'array') {
        const itemType = valueType(cur, ggufPath, key);
        if (itemType === 'array') throw new Error(`${ggufPath}: metadata ${key} is a nested array`);
        const n = cur.count(`${key} length`);
        const value: Array<number | bigint | boolean | string> = new Array(n);
        for (let j = 0; j < n; j++) value[j] = cur.scalar(itemType);
        out.push([key, { type: 'array', itemType, value }]);
      } else {
        out.push([key, { type, value: cur.scalar(type) }]);
      }
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** All tokenizer.* keys of a GGUF file, typed as in the file, to copy a vocabulary into generated models. */
export async function readTokenizerMetadata(ggufPath: string): Promise<Array<[string, GgufValue]>> {
  return readGgufMetadata(ggufPath).filter(([key]) => key.startsWith('tokenizer.'));
}
