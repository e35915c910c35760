import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readGgufFileInfo } from 'node-llama-cpp';
import { createTokenizer, tokenizerMetadataFromKv } from '../../../main/engine/tokenizer/index.ts';
import { smollm2Path } from '../../support/models.ts';

const base = (): Record<string, unknown> => ({
  'tokenizer.ggml.model': 'gpt2',
  'tokenizer.ggml.pre': 'gpt-2',
  'tokenizer.ggml.tokens': ['a', 'b', 'ab'],
  'tokenizer.ggml.token_type': [1, 1, 1],
  'tokenizer.ggml.merges': ['a b'],
  'tokenizer.ggml.bos_token_id': 2,
});

function assertBad(kv: Record<string, unknown>, key: string, detail: RegExp): void {
  assert.throws(
    () => tokenizerMetadataFromKv(kv),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'TOKENIZER_BAD_METADATA');
      assert.ok(e.message.includes(key), `message names ${key}: ${e.message}`);
      assert.match(e.message, detail);
      return true;
    },
  );
}

test('valid metadata passes through with camelCase fields', () => {
  const meta = tokenizerMetadataFromKv(new Map(Object.entries({ ...base(), 'tokenizer.ggml.add_bos_token': false })));
  assert.equal(meta.model, 'gpt2');
  assert.equal(meta.pre, 'gpt-2');
  assert.deepEqual(meta.tokens, ['a', 'b', 'ab']);
  assert.equal(meta.bosId, 2);
  assert.equal(meta.addBosToken, false);
  assert.deepEqual(createTokenizer(meta).encode('abba'), [2, 1, 0]);
});

test('typed arrays and 64-bit (bigint) ids, as a native GGUF reader may hand them over, are accepted', () => {
  const meta = tokenizerMetadataFromKv({
    ...base(),
    'tokenizer.ggml.token_type': Int32Array.of(1, 1, 3),
    'tokenizer.ggml.scores': Float32Array.of(0, -1, -2),
    'tokenizer.ggml.eos_token_id': 2n,
  });
  assert.deepEqual(meta.tokenType, [1, 1, 3]);
  assert.deepEqual(meta.scores, [0, -1, -2]);
  assert.equal(meta.eosId, 2);
});

test('missing, mistyped, mis-sized and out-of-range values are rejected naming the key', () => {
  const without = (key: string): Record<string, unknown> => {
    const kv = base();
    delete kv[key];
    return kv;
  };
  assertBad(without('tokenizer.ggml.tokens'), 'tokenizer.ggml.tokens', /missing/);
  assertBad(without('tokenizer.ggml.model'), 'tokenizer.ggml.model', /missing/);
  assertBad(without('tokenizer.ggml.merges'), 'tokenizer.ggml.merges', /required/);
  assertBad({ ...base(), 'tokenizer.ggml.tokens': [] }, 'tokenizer.ggml.tokens', /empty/);
  assertBad({ ...base(), 'tokenizer.ggml.tokens': ['a', 7, 'ab'] }, 'tokenizer.ggml.tokens', /element 1/);
  assertBad({ ...base(), 'tokenizer.ggml.token_type': [1, 1] }, 'tokenizer.ggml.token_type', /2 entries .* 3/);
  assertBad({ ...base(), 'tokenizer.ggml.token_type': [1, 1.5, 1] }, 'tokenizer.ggml.token_type', /integer/);
  assertBad({ ...base(), 'tokenizer.ggml.scores': [0, 0] }, 'tokenizer.ggml.scores', /2 entries/);
  assertBad({ ...base(), 'tokenizer.ggml.bos_token_id': 3 }, 'tokenizer.ggml.bos_token_id', /outside the vocabulary/);
  assertBad({ ...base(), 'tokenizer.ggml.eos_token_id': -1 }, 'tokenizer.ggml.eos_token_id', /outside/);
  assertBad({ ...base(), 'tokenizer.ggml.eot_token_id': '2' }, 'tokenizer.ggml.eot_token_id', /integer/);
  assertBad({ ...base(), 'tokenizer.ggml.add_bos_token': 1 }, 'tokenizer.ggml.add_bos_token', /boolean/);
  assertBad({ ...base(), 'tokenizer.chat_template': 42 }, 'tokenizer.chat_template', /string/);
});

test('unsupported tokenizer models and pre-tokenizers are refused with a code', () => {
  const unsupported = (kv: Record<string, unknown>, what: RegExp): void => {
    assert.throws(() => createTokenizer(tokenizerMetadataFromKv(kv)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'TOKENIZER_UNSUPPORTED');
      assert.match(e.message, what);
      return true;
    });
  };
  unsupported({ ...base(), 'tokenizer.ggml.model': 'bert' }, /'bert'/);
  unsupported({ ...base(), 'tokenizer.ggml.pre': 'no-such-pre' }, /'no-such-pre'.*llama-bpe/);
});

test('the nested metadata of node-llama-cpp readGgufFileInfo is accepted', async () => {
  const info = await readGgufFileInfo(smollm2Path(), { readTensorInfo: false });
  const meta = tokenizerMetadataFromKv(info.metadata as unknown as Record<string, unknown>);
  assert.equal(meta.model, 'gpt2');
  assert.equal(meta.pre, 'smollm');
  assert.equal(meta.tokens.length, 49152);
  assert.equal(meta.bosId, 1);
  assert.equal(meta.eosId, 2);
  assert.match(meta.chatTemplate ?? '', /<\|im_start\|>/);
});
