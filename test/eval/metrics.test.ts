// The evaluation's measures (bench/eval/metrics.ts) and documents (bench/eval/documents.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { buildDocument, documentSpecs, loadFacts, sourceParagraphs } from '../../bench/eval/documents.ts';
import { answerCorrect, meanKl, tokenAgreement } from '../../bench/eval/metrics.ts';

test('KL is 0 for identical distributions and matches a hand computation otherwise', () => {
  const p = new Float32Array([1, 2, 3, 0, 0, 0]); // two rows of a 3-token vocabulary
  assert.equal(meanKl(p, p, 3), 0);
  // Row 2 is uniform in both; row 1: p = softmax(1,2,3), q uniform: KL = sum p log(3p).
  const q = new Float32Array([5, 5, 5, 0, 0, 0]);
  const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
  const want = [1, 2, 3].reduce((s, x) => s + (Math.exp(x) / z) * Math.log((3 * Math.exp(x)) / z), 0) / 2;
  assert.ok(Math.abs(meanKl(p, q, 3) - want) < 1e-9);
  assert.throws(() => meanKl(p, new Float32Array(3), 3), RangeError);
});

test('agreement counts the reference positions where the tokens are the same', () => {
  assert.equal(tokenAgreement([1, 2, 3, 4], [1, 2, 9, 4, 5]), 0.75);
  assert.equal(tokenAgreement([1, 2], []), 0);
  assert.equal(tokenAgreement([], []), 1);
  assert.equal(answerCorrect('The cat is named BRAMBLE.', 'Bramble'), true);
  assert.equal(answerCorrect('It has no name.', 'Bramble'), false);
});

test('documents are deterministic, reach their length and carry each fact once near its depth', () => {
  const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length; // a stand-in tokenizer
  const spec = { ...documentSpecs(false)[1], tokens: 3000 };
  const a = buildDocument(spec, countWords);
  assert.deepEqual(buildDocument(spec, countWords), a);
  assert.ok(a.tokens <= 3000 && a.tokens > 2800, `${a.tokens} words`);
  assert.equal(a.facts.length, 5);
  for (const f of a.facts) {
    assert.equal(a.text.split(f.fact).length, 2, f.fact);
    assert.equal(a.text.toLowerCase().split(f.answer.toLowerCase()).length, 2, `${f.answer} appears only in its fact`);
    assert.ok(Math.abs(f.actualDepth - f.depth) < 0.06, `${f.fact} at ${f.actualDepth}`);
  }
  assert.equal(loadFacts().length >= 5, true);
  assert.ok(sourceParagraphs().length > 20);
});
