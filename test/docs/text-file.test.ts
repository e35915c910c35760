import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeText, paginateText, readTextBytes } from '../../main/docs/text-file.ts';
import { isDocumentError } from '../../main/docs/document.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

test('pages of N lines carry their line range; a final newline adds no line', () => {
  const text = Array.from({ length: 250 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
  const pages = paginateText(text, 100);
  assert.deepEqual(pages.map((p) => [p.page, p.lines]), [[1, [1, 100]], [2, [101, 200]], [3, [201, 250]]]);
  assert.equal(pages[1].text.split('\n')[0], 'line 101');
  assert.equal(pages[2].text.split('\n').at(-1), 'line 250');
});

test('CRLF and CR line ends count as one line break; blank pages are dropped but numbering holds', () => {
  const pages = paginateText('a\r\nb\rc\n\n\n\nz', 2);
  assert.deepEqual(pages.map((p) => [p.page, p.text]), [[1, 'a\nb'], [2, 'c\n'], [4, 'z']]);
  assert.throws(() => paginateText('x', 0), RangeError);
});

test('UTF-8 text decodes (BOM dropped, accents and CJK kept)', () => {
  const doc = readTextBytes(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('# Café 文档\nbody\n')]), 'notes.md');
  assert.equal(doc.kind, 'text');
  assert.equal(doc.pages[0].text, '# Café 文档\nbody');
});

test('binaries are recognised: NUL bytes, or mostly invalid UTF-8', () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  assert.match((decodeText(png) as { reason: string }).reason, /NUL/);
  const noise = Uint8Array.from({ length: 4096 }, (_, i) => 0x80 + ((i * 7) % 0x7f));
  assert.match((decodeText(noise) as { reason: string }).reason, /not UTF-8/);
  // one stray Latin-1 byte in a long text is still text
  const mostlyText = new Uint8Array([...utf8('plain text '.repeat(50)), 0xe9, ...utf8(' more')]);
  assert.ok('text' in decodeText(mostlyText));
});

test('0-byte, blank-only and binary files throw FILE_EMPTY / FILE_BINARY with the file name', () => {
  const check = (bytes: Uint8Array, code: string, message: RegExp) =>
    assert.throws(() => readTextBytes(bytes, 'f.txt'), (e: unknown) => isDocumentError(e) && e.code === code && message.test(e.message));
  check(new Uint8Array(0), 'FILE_EMPTY', /f\.txt is empty \(0 bytes\)/);
  check(utf8('\n  \n\t\n'), 'FILE_EMPTY', /only blank lines/);
  check(new Uint8Array([1, 2, 0, 4]), 'FILE_BINARY', /f\.txt was skipped: binary file/);
});
