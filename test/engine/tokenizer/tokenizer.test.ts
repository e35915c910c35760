// Tokenizer behaviour a user of the engine relies on, without llama.cpp in the loop
// (llama-cpp-parity.test.ts does the token-for-token comparison).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createTokenizer, tokenizerMetadataFromKv, type Tokenizer } from '../../../main/engine/tokenizer/index.ts';
import { longText } from '../../fixtures/tokenizer/corpus.ts';
import { llama2SpmVocab, llama3Vocab, metadataOf, smollm2Vocab } from '../../fixtures/tokenizer/vocabs.ts';

let smol: Tokenizer;
let llama3: Tokenizer;
let spm: Tokenizer;
before(async () => {
  smol = createTokenizer(metadataOf(await smollm2Vocab()));
  llama3 = createTokenizer(metadataOf(llama3Vocab()));
  spm = createTokenizer(metadataOf(llama2SpmVocab()));
});

const EMOJI = 'Family 👨‍👩‍👧‍👦, flag 🇯🇵, thumbs 👍🏽 and é.';

function streamAll(tok: Tokenizer, ids: number[]): string[] {
  const stream = tok.createStreamDecoder();
  const chunks = ids.map((id) => stream.push(id));
  chunks.push(stream.flush());
  return chunks;
}

for (const name of ['smol', 'llama3', 'spm'] as const) {
  test(`${name}: streaming decode holds back characters split across tokens`, () => {
    const tok = { smol, llama3, spm }[name];
    const ids = tok.encode(EMOJI);
    const chunks = streamAll(tok, ids);
    const expected = name === 'spm' ? ` ${EMOJI}` : EMOJI; // the stream keeps SentencePiece's leading space
    assert.equal(chunks.join(''), expected);
    for (const c of chunks) assert.ok(!c.includes('\ufffd'), `chunk ${JSON.stringify(c)} has a broken character`);
    // the test only means something if some emoji really spans several tokens
    assert.ok(chunks.slice(0, -1).some((c) => c === ''), 'some token completed no character');
    // and each token's own bytes are not valid UTF-8 on their own for those
    assert.ok(ids.some((id) => tok.tokenToPiece(id).includes('\ufffd')));
  });
}

test('stream flush turns an unfinished character into U+FFFD instead of losing it', () => {
  const ids = smol.encode('😀');
  assert.ok(ids.length > 1);
  const stream = smol.createStreamDecoder();
  assert.equal(stream.push(ids[0]), '');
  assert.equal(stream.flush(), '\ufffd');
});

test('control tokens: parsed only with parseSpecial, rendered only with special', () => {
  const text = '<|im_start|>user\nHi<|im_end|>';
  const ids = smol.encode(text, { parseSpecial: true });
  assert.equal(ids[0], 1);
  assert.equal(ids.at(-1), 2);
  assert.ok(smol.encode(text).length > ids.length, 'without parseSpecial the markers are plain text');
  assert.equal(smol.decode(ids), 'user\nHi');
  assert.equal(smol.decode(ids, { special: true }), text);
  assert.equal(smol.tokenToPiece(2), '<|im_end|>');
  assert.equal(smol.tokenText(2), '<|im_end|>');
  assert.ok(smol.isSpecial(2));
  assert.ok(!smol.isSpecial(ids[1]));
});

test('a longer special token wins over a shorter one it contains', () => {
  const tokens = ['x', 'y', 'b', '<', 'a', '>', '<a>', '<a>b'];
  const tok = createTokenizer(tokenizerMetadataFromKv({
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'gpt-2',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': [1, 1, 1, 1, 1, 1, 3, 3],
    'tokenizer.ggml.merges': [],
  }));
  assert.deepEqual(tok.encode('x<a>by<a>', { parseSpecial: true }), [0, 7, 1, 6]);
  assert.deepEqual(tok.encode('x<a>by<a>'), [0, 3, 4, 5, 2, 1, 3, 4, 5]);
});

test('end-of-generation tokens follow llama.cpp: EOS, EOT, EOM and the end-like texts', () => {
  const eog = (tok: Tokenizer): string[] =>
    Array.from({ length: tok.nVocab }, (_, id) => id).filter((id) => tok.isEog(id)).map((id) => tok.tokenText(id));
  // <reponame> is SmolLM2's FIM "repo" token, which llama.cpp also stops on
  assert.deepEqual(eog(smol), ['<|endoftext|>', '<|im_end|>', '<reponame>']);
  assert.deepEqual(eog(llama3), ['<|end_of_text|>', '<|eom_id|>', '<|eot_id|>']);
  assert.deepEqual(eog(spm), ['</s>']);
  assert.equal(llama3.eos, 128009);
  assert.equal(llama3.eot, 128009);
});

test('addSpecial adds BOS only where the vocabulary asks for it', () => {
  assert.deepEqual(llama3.encode('Hi', { addSpecial: true }).slice(0, 1), [128000]);
  assert.equal(smol.addBos, false);
  assert.deepEqual(smol.encode('Hi', { addSpecial: true }), smol.encode('Hi'));
  assert.deepEqual(spm.encode('', { addSpecial: true }), [1]);
  assert.deepEqual(spm.encode(''), []);
});

test('decode rejects ids outside the vocabulary', () => {
  for (const bad of [-1, smol.nVocab, 1.5, NaN]) {
    assert.throws(() => smol.decode([bad]), (e: Error & { code?: string }) => e.code === 'TOKENIZER_BAD_TOKEN');
  }
});

test('100 KB of text tokenizes in well under a second (fresh word cache)', async () => {
  const text = longText(100_000);
  const vocabs = { smol: await smollm2Vocab(), llama3: llama3Vocab(), spm: llama2SpmVocab() };
  for (const [name, vocab] of Object.entries(vocabs)) {
    const tok = createTokenizer(metadataOf(vocab));
    const t0 = performance.now();
    const ids = tok.encode(text);
    const ms = performance.now() - t0;
    assert.ok(ids.length > 10_000);
    assert.ok(ms < 1000, `${name}: ${ms.toFixed(0)} ms`);
  }
});
