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

test('legacy Latin-1 / Windows-1252 text and UTF-16 with a BOM decode to the right characters', () => {
  const latin1 = new Uint8Array([...utf8('Le caf'), 0xe9, ...utf8(' co'), 0xfb, ...utf8('te 3 '), 0x80, ...utf8(' ; '), 0xe0, ...utf8(' demain '), 0x93, ...utf8('bis'), 0x94, ...utf8('.\n')]);
  assert.deepEqual(decodeText(latin1), { text: 'Le café coûte 3 € ; à demain “bis”.\n' });
  const utf16le = new Uint8Array([0xff, 0xfe, ...[...'Zoë 文'].flatMap((c) => [c.charCodeAt(0) & 0xff, c.charCodeAt(0) >> 8])]);
  assert.deepEqual(decodeText(utf16le), { text: 'Zoë 文' });
  const utf16be = new Uint8Array([0xfe, 0xff, ...[...'Zoë'].flatMap((c) => [c.charCodeAt(0) >> 8, c.charCodeAt(0) & 0xff])]);
  assert.deepEqual(decodeText(utf16be), { text: 'Zoë' });
});

test('binaries are recognised: NUL bytes, many control bytes, or mostly high bytes', () => {
  const reason = (bytes: Uint8Array) => (decodeText(bytes) as { reason?: string }).reason;
  assert.match(reason(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])) ?? '', /NUL/);
  const compressed = Uint8Array.from({ length: 4096 }, (_, i) => 1 + ((i * 97) % 255)); // no NUL, all byte values
  assert.match(reason(compressed) ?? '', /neither UTF-8 nor Latin-1/);
  const highNoise = Uint8Array.from({ length: 4096 }, (_, i) => 0x80 + ((i * 7) % 0x7f));
  assert.match(reason(highNoise) ?? '', /neither UTF-8 nor Latin-1/);
});

test('0-byte, blank-only and binary files throw FILE_EMPTY / FILE_BINARY with the file name', () => {
  const check = (bytes: Uint8Array, code: string, message: RegExp) =>
    assert.throws(() => readTextBytes(bytes, 'f.txt'), (e: unknown) => isDocumentError(e) && e.code === code && message.test(e.message));
  check(new Uint8Array(0), 'FILE_EMPTY', /f\.txt is empty \(0 bytes\)/);
  check(utf8('\n  \n\t\n'), 'FILE_EMPTY', /only blank lines/);
  check(new Uint8Array([1, 2, 0, 4]), 'FILE_BINARY', /f\.txt was skipped: binary file/);
});
