// Page citations: the scoring on hand-made masses, then the figure on SmolLM2 with a planted-facts
// PDF (the floors are below what was measured: bench/results/citations-*.md).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { citePages, spanIndexOfTokens, type PageSourceMap } from '../../main/docs/citations.ts';
import { readPdf } from '../../main/docs/index.ts';
import { Model } from '../../main/engine/engine.ts';
import { smollm2Path } from '../support/models.ts';
import { figures, measureSeed } from './measure.ts';
import { plantedDocument, plantedPdf } from './planted-facts.ts';

// tokens 0-1 template, 2-4 page 1, 5 a marker between pages, 6-8 page 2, 9 template
const MAP: PageSourceMap = {
  spans: [{ source: 'a.pdf', page: 1 }, { source: 'a.pdf', page: 2 }],
  runs: [[0, -1], [2, 0], [5, -1], [6, 1], [9, -1]],
};

test('token spans follow the runs; template and marker tokens belong to no page', () => {
  assert.deepEqual([...spanIndexOfTokens(MAP, 10)], [-1, -1, 0, 0, 0, -1, 1, 1, 1, -1]);
});

test('raw mass cites the page of a question-independent sink; the excess over a neutral question does not', () => {
  //                 tmpl     page 1 (sink)   mk  page 2 (evidence)  tmpl
  const neutral = [50, 1, 9, 1, 1, 5, 1, 1, 1, 9];
  const answer = [50, 1, 9, 1, 1, 5, 1, 4, 1, 9];
  assert.equal(citePages(MAP, answer)[0].page, 1);
  const cited = citePages(MAP, answer, neutral);
  assert.equal(cited[0].page, 2);
  assert.ok(Math.abs(cited.reduce((s, c) => s + c.share, 0) - 1) < 1e-9);
  assert.deepEqual(citePages(MAP, neutral, neutral), [], 'no excess anywhere: nothing to cite');
  assert.throws(() => citePages(MAP, answer, neutral.slice(1)), /baseline covers 9 tokens, the answer 10/);
});

test('the planted-facts PDF has each fact on its own page, read back by pdfjs', async () => {
  const planted = plantedDocument(1);
  const doc = await readPdf(plantedPdf(planted), { source: 'museum.pdf' });
  assert.deepEqual(doc.pages.map((p) => p.page), planted.facts.map((_, i) => i + 1));
  for (const [i, fact] of planted.facts.entries()) {
    for (const p of doc.pages) assert.equal(p.text.replace(/\s+/g, ' ').includes(fact.fact), p.page === i + 1, `"${fact.fact}" on page ${p.page}`);
  }
});

const workDir = mkdtempSync(join(tmpdir(), 'sq-citations-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

test('SmolLM2 on planted facts: right answers cite the fact page (excess scoring), far more often than raw mass', async () => {
  const model = await Model.load(smollm2Path());
  const rows = await measureSeed(model, 1, [{ mode: 'all' }, { mode: 'sparsity', sparsity: 0.7 }], workDir);
  const [all, sparse] = figures(rows);
  const detail = JSON.stringify([all, sparse]);
  // Measured (seed 1): all 9/10 right, 9/9 cited by excess, 2/9 by raw; sparsity 0.7 6/10 right, 6/6 and 2/6.
  assert.ok(all.right >= 6, detail);
  assert.ok(all.excessOfRight >= 0.8 * all.right, detail);
  assert.ok(all.excessOfRight >= all.rawOfRight + 4, detail);
  assert.ok(sparse.right >= 3, detail);
  assert.ok(sparse.excessOfRight >= 0.8 * sparse.right, detail);
});
