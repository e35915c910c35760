// The plan shown before a pack is built: token counts against the context, skips, the ETA from a
// recorded build rate, and a listing error (never a silent cut) when the documents do not fit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { isDocumentError, type Document } from '../../main/docs/index.ts';
import { assertPlanFits, describePlan, planDocuments, readBuildRate, recordBuildRate, selectDocuments } from '../../main/docs/plan.ts';

const words = (text: string) => text.split(/\s+/).filter(Boolean).length; // a stand-in tokenizer: one token per word
const doc = (source: string, nWords: number): Document => ({ source, kind: 'text', pages: [{ page: 1, text: 'word '.repeat(nWords).trim() }], skipped: [] });
const skipped = [{ source: 'photo.png', code: 'FILE_BINARY' as const, reason: 'photo.png was skipped: binary file.' }];

test('the plan counts tokens per document plus the template, against the context minus the reserve', () => {
  const plan = planDocuments({ documents: [doc('a.txt', 1000), doc('b.txt', 3000)], skipped }, { countTokens: words, contextSize: 8192, overheadTokens: 30 });
  assert.deepEqual(plan.documents.map((d) => d.source), ['a.txt', 'b.txt']);
  // each document's markers add a few words: <document name=..>, <page number=..>, closing tags
  assert.ok(plan.documents[0].tokens >= 1000 && plan.documents[0].tokens < 1010, String(plan.documents[0].tokens));
  assert.equal(plan.tokens, plan.documents[0].tokens + plan.documents[1].tokens + 30);
  assert.equal(plan.fits, true);
  assert.equal(plan.etaSeconds, undefined);
  assert.match(describePlan(plan).join('\n'), /skipped photo\.png: photo\.png was skipped: binary file\.\n.*pack build: unknown/);
  const tight = planDocuments({ documents: [doc('a.txt', 1000)], skipped: [] }, { countTokens: words, contextSize: 1500, reserveTokens: 600 });
  assert.equal(tight.fits, false);
});

test('documents that do not fit: an error listing each with its tokens, largest first, and how to choose', () => {
  const plan = planDocuments({ documents: [doc('small.md', 500), doc('big.txt', 6000), doc('mid.txt', 2000)], skipped: [] }, { countTokens: words, contextSize: 8192 });
  assert.equal(plan.fits, false);
  assert.throws(() => assertPlanFits(plan), (e: unknown) => {
    assert.ok(isDocumentError(e));
    assert.equal(e.code, 'DOCUMENTS_TOO_LARGE');
    assert.match(e.message, /take \d+ tokens; the model's context holds 8192 \(1024 kept for the conversation\)/);
    assert.match(e.message, /big\.txt: 600\d tokens\n {2}mid\.txt: 200\d tokens\n {2}small\.md: 50\d tokens/);
    assert.match(e.message, /--only mid\.txt,small\.md/);
    return true;
  });
  const kept = selectDocuments({ documents: [doc('small.md', 500), doc('big.txt', 6000), doc('mid.txt', 2000)] }, ['small.md', 'mid.txt']);
  assert.deepEqual(kept.documents.map((d) => d.source), ['small.md', 'mid.txt']);
  assert.throws(() => selectDocuments(kept, ['nope.txt']), /Not among the documents: nope\.txt\. They are: small\.md, mid\.txt\./);
});

test('the ETA uses the last recorded build of the same model; a damaged rate file is ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sq-plan-'));
  try {
    assert.equal(await readBuildRate(dir, 'model-a'), undefined);
    await recordBuildRate(dir, 'model-a', 2000, 4000); // 2000 tokens in 4 s
    await recordBuildRate(dir, 'model-b', 1000, 1000);
    const rate = await readBuildRate(dir, 'model-a');
    assert.deepEqual(rate, { tokensPerSecond: 500, tokens: 2000, source: 'last-build' });
    const plan = planDocuments({ documents: [doc('a.txt', 1000)], skipped: [] }, { countTokens: words, contextSize: 8192, rate });
    assert.ok(plan.etaSeconds! > 2 && plan.etaSeconds! < 2.1, String(plan.etaSeconds));
    assert.match(describePlan(plan).at(-1)!, /pack build: about 2 s at 500 tokens\/s \(the last pack build of this model\)/);
    writeFileSync(join(dir, 'build-rates.json'), '{"model-a": ');
    assert.equal(await readBuildRate(dir, 'model-a'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
