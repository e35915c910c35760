import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { buildFixedContext, locate, readPdfFile, type Document } from '../../main/docs/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'docs');

const notes: Document = {
  source: 'src/"odd" <name>\n.md',
  kind: 'text',
  pages: [
    { page: 1, text: 'first page of notes', lines: [1, 100] },
    { page: 3, text: 'third page: the launch code is 4471', lines: [201, 230] },
  ],
  skipped: [],
};

test('markers: one document element per file, one page element per page, names escaped', async () => {
  const report = await readPdfFile(path.join(fixtures, 'report.pdf'));
  const context = buildFixedContext([report, notes]);
  assert.ok(context.text.startsWith('<document name="report.pdf">\n<page number="1">\n'));
  assert.match(context.text, /<\/page>\n<\/document>\n\n<document name="src\/&quot;odd&quot; &lt;name>&#10;\.md">\n<page number="1" lines="1-100">\n/);
  assert.match(context.text, /<page number="3" lines="201-230">\nthird page: the launch code is 4471\n<\/page>\n<\/document>\n$/);
  assert.equal(context.spans.length, 6);
  assert.equal(context.tokens, undefined);
});

test('every offset inside a page maps back to that file and page; markers between pages map to none', async () => {
  const report = await readPdfFile(path.join(fixtures, 'report.pdf'));
  const context = buildFixedContext([report, notes]);
  const facts: Array<[string, string, number]> = [
    ['forty-two ships', 'report.pdf', 1],
    ['Eastvale\t2310\t11%', 'report.pdf', 2],
    ['bleaching followed', 'report.pdf', 3],
    ['文档助手', 'report.pdf', 4],
    ['launch code is 4471', notes.source, 3],
  ];
  for (const [needle, source, page] of facts) {
    const at = context.text.replaceAll('\n', ' ').indexOf(needle); // same offsets, line breaks as spaces
    assert.ok(at >= 0, `${needle} not in context`);
    for (const offset of [at, at + needle.length - 1]) {
      const span = locate(context.spans, offset);
      assert.equal(span?.source, source, needle);
      assert.equal(span?.page, page, needle);
    }
  }
  for (let k = 0; k < context.spans.length; k++) {
    const span = context.spans[k];
    assert.ok(context.text.slice(span.start, span.end).startsWith(`<page number="${span.page}"`));
    assert.ok(context.text.slice(span.start, span.end).endsWith('</page>\n'));
    if (k > 0) assert.ok(context.spans[k - 1].end <= span.start);
  }
  assert.equal(locate(context.spans, 0), undefined, '<document> header belongs to no page');
  assert.equal(locate(context.spans, context.text.length), undefined);
  assert.equal(locate(context.spans, -1), undefined);
});

test('token counts per document (what a user may drop) and whether it fits the model context', async () => {
  const report = await readPdfFile(path.join(fixtures, 'report.pdf'));
  const countTokens = (text: string) => llama3Tokenizer.encode(text, { bos: false, eos: false }).length;
  const context = buildFixedContext([report, notes], { countTokens, contextSize: 1300, reserveTokens: 1000 });
  assert.deepEqual(context.documents?.map((d) => [d.source, d.pages]), [['report.pdf', 4], [notes.source, 2]]);
  const whole = countTokens(context.text);
  assert.ok(Math.abs(context.tokens! - whole) <= 2, `sum of documents ${context.tokens} vs whole text ${whole}`);
  assert.ok(context.tokens! > 300 && context.tokens! < 500, `report + notes = ${context.tokens} tokens`);
  assert.equal(context.fits, false, `${context.tokens} + 1000 reserved > 1300`);
  assert.equal(buildFixedContext([report, notes], { countTokens, contextSize: 8192 }).fits, true);
  assert.equal(buildFixedContext([], { countTokens }).tokens, 0);
});
