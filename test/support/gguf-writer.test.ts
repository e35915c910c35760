import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { GGML_TYPE, type GgufValue, ggmlTensorBytes, readGgufMetadata, readTokenizerMetadata, writeGguf } from './gguf-writer.ts';
import { smollm2Path } from './models.ts';

const dir = mkdtempSync(join(tmpdir(), 'gguf-writer-'));

const metadata: Array<[string, GgufValue]> = [
  ['general.architecture', { type: 'string', value: 'llama' }],
  ['t.u8', { type: 'u8', value: 255 }],
  ['t.i8', { type: 'i8', value: -128 }],
  ['t.u16', { type: 'u16', value: 65535 }],
  ['t.i16', { type: 'i16', value: -32768 }],
  ['t.u32', { type: 'u32', value: 4294967295 }],
  ['t.i32', { type: 'i32', value: -2147483648 }],
  ['t.u64', { type: 'u64', value: 2n ** 64n - 1n }],
  ['t.i64', { type: 'i64', value: -(2n ** 63n) }],
  ['t.f32', { type: 'f32', value: 0.25 }],
  ['t.f64', { type: 'f64', value: 0.1 }],
  ['t.bool', { type: 'bool', value: true }],
  ['t.string', { type: 'string', value: 'grüße, 世界' }],
  ['t.empty', { type: 'string', value: '' }],
  ['t.arr_i32', { type: 'array', itemType: 'i32', value: [1, -2, 3] }],
  ['t.arr_f32', { type: 'array', itemType: 'f32', value: [0.5, -1.5] }],
  ['t.arr_str', { type: 'array', itemType: 'string', value: ['a', '', 'ß'] }],
  ['t.arr_bool', { type: 'array', itemType: 'bool', value: [true, false] }],
  ['t.arr_u64', { type: 'array', itemType: 'u64', value: [0n, 7n] }],
  ['t.arr_empty', { type: 'array', itemType: 'u8', value: [] }],
];

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

const tensors = [
  { name: 'a.f32', type: GGML_TYPE.F32, shape: [3, 2], data: bytes(24, 1) },
  { name: 'b.q8_0', type: GGML_TYPE.Q8_0, shape: [64, 3], data: bytes(6 * 34, 2) },
  { name: 'c.q4_k', type: GGML_TYPE.Q4_K, shape: [256], data: bytes(144, 3) },
  { name: 'd.f16.3d', type: GGML_TYPE.F16, shape: [5, 1, 2], data: bytes(20, 4) },
];

for (const [version, alignment] of [[3, undefined], [2, 64], [3, 256]] as const) {
  test(`node-llama-cpp reads back every value type and tensor (v${version}, alignment ${alignment ?? 32})`, async () => {
    const path = join(dir, `all-v${version}-${alignment}.gguf`);
    writeGguf(path, { metadata, tensors, version, alignment });

    const info = await readGgufFileInfo(path, { logWarnings: false });
    assert.equal(info.version, version);
    assert.equal(Number(info.tensorCount), tensors.length);
    const t = (info.metadata as unknown as { t: Record<string, unknown> }).t;
    for (const [key, value] of metadata.filter(([k]) => k.startsWith('t.'))) {
      assert.deepEqual(t[key.slice(2)], value.value, key);
    }
    assert.equal((info.metadata.general as { alignment?: number }).alignment, alignment);

    const file = readFileSync(path);
    const align = alignment ?? 32;
    assert.equal(info.infoEndOffset! % align, 0);
    assert.equal(info.tensorInfo!.length, tensors.length);
    info.tensorInfo!.forEach((ti, i) => {
      assert.equal(ti.name, tensors[i].name);
      assert.deepEqual(ti.dimensions.map(Number), tensors[i].shape);
      assert.equal(ti.ggmlType, tensors[i].type);
      assert.equal(Number(ti.offset) % align, 0);
      const at = info.infoEndOffset! + Number(ti.offset);
      assert.deepEqual(new Uint8Array(file.subarray(at, at + tensors[i].data.length)), tensors[i].data, ti.name);
    });

    // The typed reader gives back exactly what was written (general.alignment added when non-default).
    const expected = alignment === undefined
      ? metadata
      : [...metadata, ['general.alignment', { type: 'u32', value: alignment }]];
    assert.deepEqual(readGgufMetadata(path), expected);
  });
}

test('a tensor streamed in chunks is byte-identical to one given whole', () => {
  const whole = join(dir, 'whole.gguf');
  const chunked = join(dir, 'chunked.gguf');
  const data = bytes(256 * 8 * 34 / 32, 9); // Q8_0 [256][8]
  writeGguf(whole, { metadata: [], tensors: [{ name: 'w', type: GGML_TYPE.Q8_0, shape: [256, 8], data }] });
  writeGguf(chunked, {
    metadata: [],
    tensors: [{
      name: 'w', type: GGML_TYPE.Q8_0, shape: [256, 8],
      data: (write) => { for (let i = 0; i < data.length; i += 100) write(data.subarray(i, i + 100)); },
    }],
  });
  assert.deepEqual(readFileSync(chunked), readFileSync(whole));
});

test('inconsistent input is refused with the offending name', () => {
  const path = join(dir, 'bad.gguf');
  const one = (t: { name: string; type: number; shape: number[]; data: Uint8Array }) => () =>
    writeGguf(path, { metadata: [], tensors: [t] });
  assert.throws(one({ name: 'short', type: GGML_TYPE.F32, shape: [4], data: new Uint8Array(12) }), /short: got 12 bytes.*need 16/);
  assert.equal(existsSync(path), false, 'a failed write leaves its partial file');
  assert.throws(one({ name: 'rows', type: GGML_TYPE.Q4_K, shape: [128], data: new Uint8Array(72) }), /row length 128.*block size 256/);
  assert.throws(() => writeGguf(path, { metadata: [['k', { type: 'u8', value: 256 }]], tensors: [] }), /metadata k: 256/);
  assert.throws(() => writeGguf(path, { metadata: [['k', { type: 'i64', value: 2n ** 63n }]], tensors: [] }), /metadata k/);
  assert.throws(() => writeGguf(path, { metadata: [['k', { type: 'array', itemType: 'string', value: ['a', 1] }]], tensors: [] }), /metadata k: 1/);
  assert.throws(() => writeGguf(path, { metadata: [['general.alignment', { type: 'u32', value: 64 }]], tensors: [], alignment: 32 }), /disagrees/);
  assert.throws(() => writeGguf(path, { metadata: [], tensors: [], alignment: 48 }), /power of two/);
});

test('unknown tensor types are written as given bytes, so tests can build files the engine must reject', () => {
  const path = join(dir, 'unknown-type.gguf');
  writeGguf(path, { metadata: [], tensors: [{ name: 'x', type: 99, shape: [4], data: bytes(5, 1) }] });
  const file = readFileSync(path);
  assert.deepEqual(new Uint8Array(file.subarray(file.length - 32, file.length - 27)), bytes(5, 1));
});

test('ggmlTensorBytes follows ggml block sizes', () => {
  assert.equal(ggmlTensorBytes(GGML_TYPE.Q4_0, [64, 2]), 4 * 18);
  assert.equal(ggmlTensorBytes(GGML_TYPE.Q5_1, [32]), 24);
  assert.equal(ggmlTensorBytes(GGML_TYPE.Q6_K, [512, 3]), 6 * 210);
  assert.equal(ggmlTensorBytes(GGML_TYPE.BF16, [7, 3]), 42);
});

test('readTokenizerMetadata copies SmolLM2 vocabulary keys with their file types', async () => {
  const keys = new Map(await readTokenizerMetadata(smollm2Path()));
  assert.ok([...keys.keys()].every((k) => k.startsWith('tokenizer.')));
  const tokens = keys.get('tokenizer.ggml.tokens');
  assert.ok(tokens?.type === 'array' && tokens.itemType === 'string');
  assert.equal(tokens.value.length, 49152);
  assert.equal(tokens.value[1], '<|im_start|>');
  const types = keys.get('tokenizer.ggml.token_type');
  assert.ok(types?.type === 'array' && types.itemType === 'i32' && types.value.length === 49152);
  const merges = keys.get('tokenizer.ggml.merges');
  assert.ok(merges?.type === 'array' && merges.itemType === 'string' && merges.value[0] === 'Ġ t');
  assert.deepEqual(keys.get('tokenizer.ggml.bos_token_id'), { type: 'u32', value: 1 });
  assert.deepEqual(keys.get('tokenizer.ggml.add_bos_token'), { type: 'bool', value: false });
  assert.deepEqual(keys.get('tokenizer.ggml.pre'), { type: 'string', value: 'smollm' });
});
