// Bad model files give coded errors through the Node API, and the process carries on.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { isEngineError, Model } from '../../main/engine/engine.ts';
import { GGML_TYPE, readGgufMetadata, writeGguf, type GgufValue } from '../support/gguf-writer.ts';
import { makeRandomModel } from '../support/random-model.ts';

const dir = mkdtempSync(join(tmpdir(), 'squeeze-bad-model-'));
const TINY = { arch: 'llama' as const, nLayers: 1, nEmbd: 64, nFf: 128, nHeads: 2, nKvHeads: 1, nCtxTrain: 256, seed: 3 };
let good: string;

before(async () => {
  good = join(dir, 'good.gguf');
  await makeRandomModel(good, { ...TINY, weightType: 'F32' });
});

async function loadError(path: string): Promise<{ code: string; message: string }> {
  try {
    await Model.load(path);
  } catch (e) {
    assert.ok(isEngineError(e), `expected a coded error, got ${String(e)}`);
    return { code: e.code, message: e.message };
  }
  assert.fail(`${path} loaded but should not have`);
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** The good model's metadata with `key` replaced (or dropped when value is undefined). */
function withMetadata(key: string, value: GgufValue | undefined): Array<[string, GgufValue]> {
  const meta = readGgufMetadata(good).filter(([k]) => k !== key);
  return value ? [[key, value], ...meta] : meta;
}

test('zero-length, wrong magic, truncated and huge-count files', async () => {
  const bytes = readFileSync(good);
  assert.equal((await loadError(write('empty.gguf', new Uint8Array()))).code, 'GGUF_TRUNCATED');
  const magic = Buffer.from(bytes);
  magic.write('GGML', 0);
  assert.equal((await loadError(write('magic.gguf', magic))).code, 'GGUF_MAGIC');
  for (const cut of [3, 8, 23, 100, bytes.length / 2, bytes.length - 1]) {
    const e = await loadError(write(`cut-${cut}.gguf`, bytes.subarray(0, Math.floor(cut))));
    assert.equal(e.code, 'GGUF_TRUNCATED', `cut at ${cut}: ${e.message}`);
  }
  const huge = Buffer.from(bytes);
  huge.writeBigUInt64LE(1n << 60n, 16); // n_kv
  const e = await loadError(write('huge-kv.gguf', huge));
  assert.match(e.code, /^GGUF_(TRUNCATED|BAD_VALUE)$/);
  assert.match(e.message, /1152921504606846976|metadata|key/);
});

test('bit flips anywhere in the header load or fail with a code, never crash', async () => {
  const bytes = readFileSync(good);
  const headerEnd = Math.min(bytes.length, 4096);
  for (let pos = 0; pos < headerEnd; pos += 7) {
    const flipped = Buffer.from(bytes);
    flipped[pos] ^= 1 << (pos % 8);
    const path = write('flip.gguf', flipped);
    try {
      await Model.load(path);
    } catch (e) {
      assert.ok(isEngineError(e), `flip at ${pos}: ${String(e)}`);
    }
  }
});

test('unknown architecture names the architecture', async () => {
  const path = join(dir, 'arch.gguf');
  const meta = withMetadata('general.architecture', { type: 'string', value: 'mamba' });
  writeGguf(path, { metadata: meta, tensors: [] });
  const e = await loadError(path);
  assert.equal(e.code, 'MODEL_UNKNOWN_ARCH');
  assert.match(e.message, /mamba/);
});

test('a tensor type without kernels is refused, naming the tensor', async () => {
  const path = join(dir, 'q4k.gguf');
  await makeRandomModel(path, { ...TINY, nEmbd: 256, nFf: 256, weightType: 'Q4_K' });
  // Retag one Q4_K tensor as Q2_K in its tensor info: the smaller Q2_K data still lies in the file.
  const bytes = readFileSync(path);
  const name = Buffer.from('blk.0.attn_q.weight');
  const at = bytes.indexOf(name) + name.length;
  const nDims = bytes.readUInt32LE(at);
  const typeAt = at + 4 + 8 * nDims;
  assert.equal(bytes.readUInt32LE(typeAt), GGML_TYPE.Q4_K);
  bytes.writeUInt32LE(GGML_TYPE.Q2_K, typeAt);
  const e = await loadError(write('q2k.gguf', bytes));
  assert.equal(e.code, 'MODEL_UNSUPPORTED_TYPE');
  assert.match(e.message, /blk\.0\.attn_q\.weight/);
  assert.match(e.message, /Q2_K/);
});

test('a model larger than the memory available is refused before use', async () => {
  const previous = process.env.SQUEEZE_MEMORY_LIMIT;
  process.env.SQUEEZE_MEMORY_LIMIT = String(64 * 1024);
  try {
    const e = await loadError(good);
    assert.equal(e.code, 'MODEL_TOO_LARGE');
    assert.match(e.message, /MiB|KiB|bytes/);
  } finally {
    if (previous === undefined) delete process.env.SQUEEZE_MEMORY_LIMIT;
    else process.env.SQUEEZE_MEMORY_LIMIT = previous;
  }
});

test('a context too large for memory is refused with CONTEXT_OUT_OF_MEMORY', async () => {
  const model = await Model.load(good);
  const previous = process.env.SQUEEZE_MEMORY_LIMIT;
  process.env.SQUEEZE_MEMORY_LIMIT = String(16 * 1024 * 1024);
  try {
    assert.throws(() => model.createSession({ contextSize: 1 << 24 }), (e: unknown) => isEngineError(e) && e.code === 'CONTEXT_OUT_OF_MEMORY');
  } finally {
    if (previous === undefined) delete process.env.SQUEEZE_MEMORY_LIMIT;
    else process.env.SQUEEZE_MEMORY_LIMIT = previous;
  }
  // the process and the model still work after all of the above
  const session = model.createSession({ contextSize: 64 });
  const out = await session.generate([1, 2, 3], { maxTokens: 4, ignoreEog: true });
  assert.equal(out.tokens.length, 4);
});

