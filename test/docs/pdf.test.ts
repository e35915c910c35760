// PDF text on real files made by scripts/make-test-pdfs.py (fpdf2 + pikepdf), committed under
// test/fixtures/docs/. The sentences checked here are the ones that script writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPdf, readPdfFile, isDocumentError, type Document } from '../../main/docs/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'docs');
const fixture = (name: string) => path.join(fixtures, name);

function pageText(doc: Document, page: number): string {
  const found = doc.pages.find((p) => p.page === page);
  assert.ok(found, `page ${page} missing; pages: ${doc.pages.map((p) => p.page).join(',')}`);
  return found.text;
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(isDocumentError(e), `expected a DocumentError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

test('report.pdf: four pages, each known sentence on its page and nowhere else', async () => {
  const doc = await readPdfFile(fixture('report.pdf'));
  assert.equal(doc.source, 'report.pdf');
  assert.equal(doc.kind, 'pdf');
  assert.deepEqual(doc.pages.map((p) => p.page), [1, 2, 3, 4]);
  const facts: Array<[number, string]> = [
    [1, 'The lighthouse keeper counted forty-two ships in the harbour on Monday.'],
    [1, 'The annual budget for the observatory was set at nine million euros.'],
    [2, 'The table below lists revenue by region for the third quarter.'],
    [2, 'Eastvale grew fastest because of the new harbour bridge.'],
    [3, 'Two perspectives'],
    [4, 'This is the last sentence of the report.'],
  ];
  for (const [page, sentence] of facts) {
    for (const p of doc.pages) assert.equal(p.text.includes(sentence), p.page === page, `"${sentence}" on page ${p.page}`);
  }
});

test('report.pdf: a word hyphenated at a line end is joined', async () => {
  const text = pageText(await readPdfFile(fixture('report.pdf')), 1);
  assert.match(text, /read the whole document before it answers a question about it\./);
  assert.doesNotMatch(text, /docu-/);
  assert.match(text, /forty-two/, 'a hyphen inside a line is kept');
});

test('report.pdf: running header and "Page N of M" footer are dropped from every page', async () => {
  const doc = await readPdfFile(fixture('report.pdf'));
  for (const p of doc.pages) {
    assert.doesNotMatch(p.text, /Squeeze Quarterly Report/, `header on page ${p.page}`);
    assert.doesNotMatch(p.text, /Page \d+ of \d+/, `footer on page ${p.page}`);
  }
});

test('report.pdf: table cells stay in their rows, rows in order', async () => {
  const lines = pageText(await readPdfFile(fixture('report.pdf')), 2).split('\n');
  const rows = [
    ['Region', 'Revenue', 'Growth'],
    ['Northland', '1200', '4%'],
    ['Southmark', '950', '-2%'],
    ['Eastvale', '2310', '11%'],
  ];
  const at = rows.map((cells) => lines.findIndex((line) => line.split('\t').map((c) => c.trim()).join('|') === cells.join('|')));
  assert.ok(at.every((i) => i >= 0), `rows not found as tab-separated lines: ${JSON.stringify(lines)}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at, 'rows out of order');
});

test('report.pdf: the two-column page is read left column, then right column', async () => {
  const text = pageText(await readPdfFile(fixture('report.pdf')), 3).replace(/\s+/g, ' ');
  const left = 'Left column begins here. The northern team studied glaciers for three summers and measured how quickly the ice retreated each year. Their conclusion was that the retreat doubled within a decade. Left column ends here.';
  const right = 'Right column begins here. The southern team surveyed coral reefs along the coast and recorded the water temperature every morning. They found that bleaching followed every heat wave. Right column ends here.';
  assert.ok(text.includes(left), `left column not contiguous: ${text}`);
  assert.ok(text.includes(right), `right column not contiguous: ${text}`);
  assert.ok(text.indexOf('Two perspectives') < text.indexOf(left) && text.indexOf(left) < text.indexOf(right));
});

test('report.pdf: accents, Greek and CJK text survive', async () => {
  const text = pageText(await readPdfFile(fixture('report.pdf')), 4);
  assert.match(text, /Crème brûlée and a naïve façade in Zürich cost 12 €\./);
  assert.match(text, /αβγ δέλτα/);
  assert.match(text, /文档助手可以阅读整个文件。/);
});

test('mixed.pdf: an image-only page is listed as skipped, the others keep their numbers', async () => {
  const doc = await readPdfFile(fixture('mixed.pdf'));
  assert.deepEqual(doc.pages.map((p) => p.page), [1, 3]);
  assert.match(pageText(doc, 3), /third page of the mixed file/);
  assert.equal(doc.skipped.length, 1);
  assert.equal(doc.skipped[0].code, 'PDF_PAGE_NO_TEXT');
  assert.equal(doc.skipped[0].page, 2);
});

test('scanned.pdf (images only) → PDF_NO_TEXT, suggesting OCR', async () => {
  await rejectsWith(readPdfFile(fixture('scanned.pdf')), 'PDF_NO_TEXT', /scanned\.pdf has no text layer.*OCR/);
});

test('encrypted.pdf: without a password → PDF_ENCRYPTED asking for it; wrong one → PDF_BAD_PASSWORD; right one opens', async () => {
  await rejectsWith(readPdfFile(fixture('encrypted.pdf')), 'PDF_ENCRYPTED', /password-protected\. Enter its password/);
  await rejectsWith(readPdfFile(fixture('encrypted.pdf'), { password: 'wrong' }), 'PDF_BAD_PASSWORD', /password for encrypted\.pdf is not correct/);
  const doc = await readPdfFile(fixture('encrypted.pdf'), { password: 'squeeze' });
  assert.match(pageText(doc, 1), /The vault combination is written on this secret page\./);
});

test('corrupt.pdf, a truncated PDF and a 0-byte PDF fail with a code, and the next read still works', async () => {
  await rejectsWith(readPdfFile(fixture('corrupt.pdf')), 'PDF_CORRUPT', /corrupt\.pdf is not a readable PDF.*damaged/);
  await rejectsWith(readPdf(new Uint8Array(0), { source: 'zero.pdf' }), 'FILE_EMPTY', /zero\.pdf is empty/);
  const report = await readFile(fixture('report.pdf'));
  const head = report.subarray(0, 600); // header and the start of the first object only
  await rejectsWith(readPdf(head, { source: 'cut.pdf' }), 'PDF_CORRUPT', /cut\.pdf/);
  const doc = await readPdf(report, { source: 'report.pdf' });
  assert.equal(doc.pages.length, 4);
});

test('a missing file → FILE_NOT_FOUND', async () => {
  await rejectsWith(readPdfFile(fixture('no-such.pdf')), 'FILE_NOT_FOUND', /no-such\.pdf does not exist/);
});

test('cancelling stops the read with CANCELLED', async () => {
  const controller = new AbortController();
  controller.abort();
  await rejectsWith(readPdfFile(fixture('report.pdf'), { signal: controller.signal }), 'CANCELLED', /cancelled/);
});

test('rotated.pdf: a page drawn sideways with /Rotate 90 reads upright, line by line', async () => {
  const doc = await readPdfFile(fixture('rotated.pdf'));
  assert.deepEqual(pageText(doc, 1).split('\n'), [
    'Landscape page, first line: the quarterly totals follow.',
    'Second line: the ferry carried 8100 passengers in August.',
    'Third line: this page is shown rotated by ninety degrees.',
  ]);
});

test('damaged-page.pdf: a page whose content cannot be decoded is skipped as PDF_CORRUPT, the rest is read', async () => {
  const doc = await readPdfFile(fixture('damaged-page.pdf'));
  assert.deepEqual(doc.pages.map((p) => p.page), [3]);
  assert.match(pageText(doc, 3), /third page of the mixed file has text again/);
  assert.deepEqual(doc.skipped.map((s) => [s.page, s.code]), [[1, 'PDF_CORRUPT'], [2, 'PDF_PAGE_NO_TEXT']]);
  assert.match(doc.skipped[0].reason, /Page 1 of damaged-page\.pdf is damaged and cannot be read/);
});
