// Text, Markdown and code files: decoded as UTF-8 and split into "pages" of a fixed number of lines,
// so a citation can name a line range ("notes.md, lines 101-200") the way a PDF citation names a page.

import { DocumentError, type Document, type DocumentPage } from './document.ts';

export interface TextOptions {
  /** lines per page; default 100 */
  linesPerPage?: number;
}

export const DEFAULT_LINES_PER_PAGE = 100;

// Git's rule: a NUL byte in the first 8 KB means binary.
const SNIFF_BYTES = 8000;
// Legacy 8-bit text (Latin-1, Windows-1252) decodes with a few replacement characters per line;
// real binaries with hundreds. Above this share the file is not treated as text.
const MAX_INVALID_SHARE = 0.01;

/** The decoded text, or why these bytes are not readable text. */
export function decodeText(bytes: Uint8Array): { text: string } | { reason: string } {
  if (bytes.subarray(0, SNIFF_BYTES).includes(0)) return { reason: 'binary file (contains NUL bytes)' };
  const text = new TextDecoder('utf-8').decode(bytes); // drops a leading BOM
  let invalid = 0;
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) invalid++;
  if (invalid > MAX_INVALID_SHARE * text.length) return { reason: `not UTF-8 text (${invalid} invalid byte sequences)` };
  return { text };
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
