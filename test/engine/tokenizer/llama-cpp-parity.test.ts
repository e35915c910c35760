// The tokenizer against llama.cpp (node-llama-cpp 3.21.1), token for token, on every corpus text,
// with and without parse_special and add_special, for each vocabulary and pre-tokenizer we claim.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createTokenizer, type Tokenizer } from '../../../main/engine/tokenizer/index.ts';
import { CORPUS, longText } from '../../fixtures/tokenizer/corpus.ts';
import {
  llama2SpmVocab,
  llama3Vocab,
  metadataOf,
  smollm2Vocab,
  VocabModels,
  withPre,
  withTokenTypes,
  type GgufVocab,
} from '../../fixtures/tokenizer/vocabs.ts';
import { closeReference, referenceDetokenize, referenceTokenize } from '../../support/llama-cpp-reference.ts';

const models = new VocabModels();
after(async () => {
  await closeReference();
  models.remove();
});

const TEXTS = [...CORPUS];

async function assertSameIds(tok: Tokenizer, path: string): Promise<void> {
  for (const special of [false, true]) {
    for (const addBos of [false, true]) {
      const ref = await referenceTokenize(path, TEXTS, { special, addBos });
      TEXTS.forEach((text, i) => {
        const ours = tok.encode(text, { parseSpecial: special, addSpecial: addBos });
        assert.deepEqual(ours, ref[i], `${JSON.stringify(text)} parseSpecial=${special} addSpecial=${addBos}`);
      });
    }
  }
}

// llama.cpp reads UTF-8, so a lone surrogate arrives as U+FFFD.
const wellFormed = (s: string): string =>
  s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

function assertRoundTrip(tok: Tokenizer): void {
  for (const text of TEXTS) {
    assert.equal(tok.decode(tok.encode(text)), wellFormed(text), `plain ${JSON.stringify(text)}`);
    const withSpecial = tok.encode(text, { parseSpecial: true });
    assert.equal(tok.decode(withSpecial, { special: true }), wellFormed(text), `special ${JSON.stringify(text)}`);
  }
}

// Every token rendered alone, compared with llama_detokenize (only for vocabularies whose
// llama.cpp pre-type does not clean up spaces around punctuation, which our decode never does).
async function assertSamePieces(tok: Tokenizer, path: string): Promise<void> {
  const ids = Array.from({ length: tok.nVocab }, (_, i) => [i]);
  for (const special of [false, true]) {
    const ref = await referenceDetokenize(path, ids, { special });
    for (let id = 0; id < tok.nVocab; id++) {
      const ours = tok.decode([id], { special });
      if (ours !== ref[id]) assert.equal(ours, ref[id], `token ${id} ${JSON.stringify(tok.tokenText(id))} special=${special}`);
    }
  }
}

async function setup(vocab: GgufVocab): Promise<{ tok: Tokenizer; path: string }> {
  return { tok: createTokenizer(metadataOf(vocab)), path: await models.write(vocab) };
}

test('SmolLM2 (byte-level BPE, pre smollm): ids, pieces, 100 KB text, round trip', async () => {
  const { tok, path } = await setup(await smollm2Vocab());
  await assertSameIds(tok, path);
  await assertSamePieces(tok, path);
  const big = longText();
  const [ref] = await referenceTokenize(path, [big], { special: false });
  assert.deepEqual(tok.encode(big), ref);
  assertRoundTrip(tok);
});

test('Llama 3.1 vocabulary (byte-level BPE, pre llama-bpe, ignore_merges, add_bos): ids and round trip', async () => {
  const { tok, path } = await setup(llama3Vocab());
  assert.equal(tok.addBos, true);
  await assertSameIds(tok, path);
  const big = longText();
  const [ref] = await referenceTokenize(path, [big], { special: false });
  assert.deepEqual(tok.encode(big), ref);
  assertRoundTrip(tok);
});

test('Llama 2 SentencePiece vocabulary: ids, byte fallback, pieces, round trip', async () => {
  const { tok, path } = await setup(llama2SpmVocab());
  await assertSameIds(tok, path);
  await assertSamePieces(tok, path);
  for (const text of TEXTS) assert.equal(tok.decode(tok.encode(text)), wellFormed(text), JSON.stringify(text));
});

test('user-defined tokens are cut out of text even without parseSpecial, and render raw', async () => {
  const USER_DEFINED = 4;
  const vocab = withTokenTypes(await smollm2Vocab(), { Hello: USER_DEFINED, '<repo_name>': USER_DEFINED, 'Ġworld': USER_DEFINED });
  const { tok, path } = await setup(vocab);
  await assertSameIds(tok, path);
  await assertSamePieces(tok, path);
  assert.deepEqual(tok.encode('Hello<repo_name>'), [tok.encode('Hello')[0], 3]);
});

// The pre-tokenizer is what differs between these names; SmolLM2's vocabulary serves them all.
for (const pre of ['gpt-2', 'qwen2', 'default', 'falcon', 'llama-bpe', 'starcoder', 'chatglm-bpe', 'tekken', 'gpt-4o']) {
  test(`pre-tokenizer '${pre}' on the SmolLM2 vocabulary: ids and round trip`, async () => {
    const { tok, path } = await setup(withPre(await smollm2Vocab(), pre));
    await assertSameIds(tok, path);
    assertRoundTrip(tok);
  });
}
