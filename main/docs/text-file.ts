// Text, Markdown and code files: decoded (UTF-8, else UTF-16 with a BOM or Windows-1252) and split into "pages" of a fixed number of lines,
// so a citation can name a line range ("notes.md, lines 101-200") the way a PDF citation names a page.

import { DocumentError, type Document, type DocumentPage } from './document.ts';

export interface TextOptions {
  /** lines per page; default 100 */
  linesPerPage?: number;
}

export const DEFAULT_LINES_PER_PAGE = 100;

// Git's rule: a NUL byte in the first 8 KB means binary (after a UTF-16 byte-order mark, NULs
// are expected).
const SNIFF_BYTES = 8000;
// Bytes that are not UTF-8 are read as Windows-1252 (a superset of Latin-1, what legacy Western
// text files use) when they look like text: few control bytes and a minority of bytes above 0x7F
// (accented letters among ASCII). Compressed or encrypted data fails one or the other.
const MAX_CONTROL_SHARE = 0.01;
const MAX_HIGH_SHARE = 0.3;

// Windows-1252 is Latin-1 except for 0x80-0x9F, where it has € and typographic quotes and dashes.
// (Node's TextDecoder('windows-1252') decodes that range as Latin-1 control characters.)
const CP1252_80_9F = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090\u2018\u2019\u201C\u201D•–—˜™š›œ\u009DžŸ';

function decodeWindows1252(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString('latin1')
    .replace(/[\u0080-\u009F]/g, (c) => CP1252_80_9F[c.charCodeAt(0) - 0x80]);
}

/** The decoded text, or why these bytes are not readable text. */
export function decodeText(bytes: Uint8Array): { text: string } | { reason: string } {
  const bom = bytes.length >= 2 ? (bytes[0] << 8) | bytes[1] : 0;
  if (bom === 0xfffe) return { text: new TextDecoder('utf-16le').decode(bytes) };
  if (bom === 0xfeff) return { text: new TextDecoder('utf-16be').decode(bytes) };
  if (bytes.subarray(0, SNIFF_BYTES).includes(0)) return { reason: 'binary file (contains NUL bytes)' };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) }; // drops a UTF-8 BOM
  } catch {
    let control = 0;
    let high = 0;
    for (const byte of bytes) {
      if (byte >= 0x80) high++;
      else if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c && byte !== 0x1b) control++;
    }
    if (control > MAX_CONTROL_SHARE * bytes.length || high > MAX_HIGH_SHARE * bytes.length) {
      return { reason: 'binary file (neither UTF-8 nor Latin-1 text)' };
    }
    return { text: decodeWindows1252(bytes) };
  }
}

/** Splits decoded text into pages of `linesPerPage` lines; blank pages are dropped. */
export function paginateText(text: string, linesPerPage = DEFAULT_LINES_PER_PAGE): DocumentPage[] {
  if (!Number.isInteger(linesPerPage) || linesPerPage < 1) throw new RangeError(`linesPerPage must be a positive integer, got ${linesPerPage}`);
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // a final newline ends the last line, it does not start one
  const pages: DocumentPage[] = [];
  for (let start = 0; start < lines.length; start += linesPerPage) {
    const slice = lines.slice(start, start + linesPerPage);
    const body = slice.join('\n');
    if (body.trim() === '') continue;
    pages.push({ page: start / linesPerPage + 1, text: body, lines: [start + 1, start + slice.length] });
  }
  return pages;
}

/** A text document from file bytes. Throws DocumentError FILE_EMPTY or FILE_BINARY. */
export function readTextBytes(bytes: Uint8Array, source: string, options: TextOptions = {}): Document {
  if (bytes.length === 0) throw new DocumentError('FILE_EMPTY', `${source} is empty (0 bytes).`);
  const decoded = decodeText(bytes);
  if ('reason' in decoded) throw new DocumentError('FILE_BINARY', `${source} was skipped: ${decoded.reason}.`);
  const pages = paginateText(decoded.text, options.linesPerPage);
  if (pages.length === 0) throw new DocumentError('FILE_EMPTY', `${source} contains only blank lines.`);
  return { source, kind: 'text', pages, skipped: [] };
}
