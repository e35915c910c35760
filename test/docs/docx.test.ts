// .docx reading on files the test builds: paragraphs, runs, tabs, breaks, entities and tables as
// text; pages at Word's recorded page breaks, else by paragraph count; every kind of broken or
// hostile archive → a coded DocumentError, never another exception.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { isDocumentError, readDocx, readFolder } from '../../main/docs/index.ts';
import { makeZip } from '../support/make-zip.ts';
import { makeDocx, para } from './make-docx.ts';

function rejects(bytes: Uint8Array, code: string, message: RegExp): void {
  assert.throws(() => readDocx(bytes, 'memo.docx'), (e: unknown) => {
    assert.ok(isDocumentError(e), `expected a DocumentError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

test('runs, tabs, soft breaks, entities and table cells become text; Word\'s page breaks give the pages', () => {
  const body = [
    '<w:p><w:r><w:t>The budget is </w:t></w:r><w:r><w:rPr><w:i/></w:rPr><w:t>nine million</w:t></w:r><w:r><w:t xml:space="preserve"> euros &amp; more.</w:t></w:r></w:p>',
    '<w:p><w:r><w:t>Name</w:t><w:tab/><w:t>Value</w:t><w:br/><w:t>Second line &#233;t&#xE9;</w:t></w:r></w:p>',
    '<w:p><w:r><w:lastRenderedPageBreak/><w:t>Page two starts here.</w:t></w:r></w:p>',
    '<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Eastvale</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>4.1</w:t></w:r></w:p></w:tc></w:tr></w:tbl>',
    '<w:p><w:r><w:br w:type="page"/></w:r></w:p>',
    '<w:p/>',
    para('The last page <says> "goodbye".'),
  ].join('');
  const doc = readDocx(makeDocx(body), 'memo.docx');
  assert.equal(doc.kind, 'docx');
  assert.deepEqual(doc.pages, [
    { page: 1, text: 'The budget is nine million euros & more.\nName\tValue\nSecond line été' },
    { page: 2, text: 'Page two starts here.\nEastvale\n4.1' },
    { page: 3, text: 'The last page <says> "goodbye".' },
  ]);
});

test('without page breaks, paragraphs are paged like a text file (100 a page, with the range)', () => {
  const body = Array.from({ length: 250 }, (_, i) => para(`Paragraph ${i + 1}.`)).join('');
  for (const deflate of [true, false]) {
    const doc = readDocx(makeDocx(body, { deflate }), 'long.docx');
    assert.deepEqual(doc.pages.map((p) => [p.page, p.lines]), [[1, [1, 100]], [2, [101, 200]], [3, [201, 250]]]);
    assert.equal(doc.pages[2].text.split('\n')[0], 'Paragraph 201.');
  }
});

test('broken, hostile or foreign files → DOCX_CORRUPT / DOCX_ENCRYPTED / FILE_EMPTY with the reason', () => {
  const good = makeDocx(para('Hello.'));
  const cdOffset = good.readUInt32LE(good.length - 6);
  const mutate = (edit: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    edit(b);
    return b;
  };
  rejects(Buffer.from('just some text, not a zip'), 'DOCX_CORRUPT', /memo\.docx is not a readable Word document: no end-of-central-directory record/);
  rejects(good.subarray(0, good.length - 30), 'DOCX_CORRUPT', /no end-of-central-directory/);
  rejects(good.subarray(40), 'DOCX_CORRUPT', /overlaps its end record|bad signature|past the end/);
  rejects(makeZip([{ name: 'xl/workbook.xml', data: Buffer.from('<x/>') }]), 'DOCX_CORRUPT', /it has no word\/document\.xml/);
  rejects(mutate((b) => b.writeUInt32LE(0xffffffff, b.length - 6)), 'DOCX_CORRUPT', /ZIP64/);
  rejects(mutate((b) => b.writeUInt32LE(b.length, b.length - 6)), 'DOCX_CORRUPT', /overlaps/);
  // second central entry (word/document.xml): name length far past the end; size and method lies
  const second = cdOffset + 46 + '[Content_Types].xml'.length;
  rejects(mutate((b) => b.writeUInt16LE(0xfff0, second + 28)), 'DOCX_CORRUPT', /name' at byte \d+ .* runs past the end|name.*runs past the end/);
  rejects(mutate((b) => b.writeUInt32LE(10, second + 24)), 'DOCX_CORRUPT', /word\/document\.xml (holds \d+ bytes, its header says 10|cannot be inflated)/);
  rejects(mutate((b) => b.writeUInt32LE(200 * 1024 * 1024, second + 24)), 'DOCX_CORRUPT', /over the \d+-byte limit/);
  rejects(mutate((b) => b.writeUInt16LE(12, second + 10)), 'DOCX_CORRUPT', /compression method 12/);
  rejects(mutate((b) => b.writeUInt16LE(1, second + 8)), 'DOCX_CORRUPT', /is encrypted/);
  rejects(mutate((b) => b.writeUInt32LE((b.readUInt32LE(second + 16) ^ 1) >>> 0, second + 16)), 'DOCX_CORRUPT', /fails its CRC-32 check/);
  rejects(mutate((b) => b.writeUInt32LE(0x7fffff00, second + 42)), 'DOCX_CORRUPT', /local header .* runs past the end/);
  const ole = Buffer.alloc(512);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(ole);
  rejects(ole, 'DOCX_ENCRYPTED', /memo\.docx is password-protected/);
  rejects(makeDocx('<w:p/><w:p><w:r><w:t>   </w:t></w:r></w:p>'), 'FILE_EMPTY', /memo\.docx contains no text/);
  rejects(new Uint8Array(0), 'FILE_EMPTY', /0 bytes/);
});

test('2,000 random truncations and byte flips: a document or a DocumentError, nothing else', () => {
  const good = makeDocx(Array.from({ length: 40 }, (_, i) => para(`Line ${i} of the memo.`)).join(''));
  let seed = 12345;
  const next = () => (seed = (seed * 48271) % 2147483647);
  const outcomes = { read: 0, refused: 0 };
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(good.subarray(0, i % 3 === 0 ? next() % good.length : good.length));
    for (let k = 0; k < 1 + (next() % 4) && b.length > 0; k++) b[next() % b.length] = next() & 0xff;
    try {
      readDocx(b, 'fuzz.docx');
      outcomes.read++;
    } catch (e) {
      assert.ok(isDocumentError(e), `mutation ${i}: ${String(e)}`);
      outcomes.refused++;
    }
  }
  assert.ok(outcomes.refused > 1000 && outcomes.read > 0, JSON.stringify(outcomes));
});

test('in a folder a .docx is read and a damaged one is skipped with its reason', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sq-docx-'));
  try {
    writeFileSync(join(root, 'memo.docx'), makeDocx(para('The meeting moved to Friday.')));
    writeFileSync(join(root, 'broken.docx'), makeDocx(para('x')).subarray(0, 50));
    const result = await readFolder(root);
    assert.deepEqual(result.documents.map((d) => [d.source, d.kind, d.pages[0].text]), [['memo.docx', 'docx', 'The meeting moved to Friday.']]);
    assert.deepEqual(result.skipped.map((s) => [s.source, s.code]), [['broken.docx', 'DOCX_CORRUPT']]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
