// The fixed context: every document rendered once, with file and page markers, plus a map from
// character offsets back to (file, page) so attended token positions can become citations.
//
// Markers are XML-like elements, the form instruction-tuned models are taught to read documents in:
//
//   <document name="report.pdf">
//   <page number="3">
//   …page text…
//   </page>
//   </document>
//
// The file name is written once per document rather than on every page (fewer tokens on long
// PDFs), and text files carry their line range (`<page number="2" lines="101-200">`) so a citation
// can point at lines. Page text is not escaped: the map is by offsets, never by parsing the markers.

import type { Document } from './document.ts';

/** The characters [start, end) of the context that belong to one page, markers included. */
export interface ContextSpan {
  start: number;
  end: number;
  source: string;
  page: number;
  lines?: [number, number];
}

export interface DocumentTokens {
  source: string;
  pages: number;
  tokens: number;
}

export interface FixedContext {
  text: string;
  /** in text order, not overlapping */
  spans: ContextSpan[];
  /** present when countTokens was given: per document, so a user can choose what to leave out */
  documents?: DocumentTokens[];
  tokens?: number;
  /** present when countTokens and contextSize were given */
  fits?: boolean;
}

export interface FixedContextOptions {
  /** the model's tokenizer (text → number of tokens) */
  countTokens?: (text: string) => number;
  /** the model's context length in tokens */
  contextSize?: number;
  /** tokens kept free for the system prompt, the conversation and the answer; default 1024 */
  reserveTokens?: number;
}

const DEFAULT_RESERVE_TOKENS = 1024;

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/\n/g, '&#10;');
}

/**
 * Renders documents in the order given. Token counts are per document and summed: each document
 * element starts and ends at a line break, where BPE pre-tokenizers split anyway, so the sum is
 * within a token or two per document of tokenizing the whole text.
 */
export function buildFixedContext(documents: Document[], options: FixedContextOptions = {}): FixedContext {
  const spans: ContextSpan[] = [];
  const pieces: string[] = [];
  const counts: DocumentTokens[] = [];
  let length = 0;
  for (const doc of documents) {
    let piece = `${pieces.length > 0 ? '\n' : ''}<document name="${escapeAttribute(doc.source)}">\n`;
    for (const page of doc.pages) {
      const lines = page.lines ? ` lines="${page.lines[0]}-${page.lines[1]}"` : '';
      const element = `<page number="${page.page}"${lines}>\n${page.text}\n</page>\n`;
      const start = length + piece.length;
      spans.push({ start, end: start + element.length, source: doc.source, page: page.page, ...(page.lines && { lines: page.lines }) });
      piece += element;
    }
    piece += '</document>\n';
    if (options.countTokens) counts.push({ source: doc.source, pages: doc.pages.length, tokens: options.countTokens(piece) });
    pieces.push(piece);
    length += piece.length;
  }
  const context: FixedContext = { text: pieces.join(''), spans };
  if (options.countTokens) {
    context.documents = counts;
    context.tokens = counts.reduce((sum, d) => sum + d.tokens, 0);
    if (options.contextSize !== undefined) {
      context.fits = context.tokens + (options.reserveTokens ?? DEFAULT_RESERVE_TOKENS) <= options.contextSize;
    }
  }
  return context;
}

/** The page that holds character `offset`, or undefined for marker text between pages. */
export function locate(spans: ContextSpan[], offset: number): ContextSpan | undefined {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (offset < spans[mid].start) hi = mid - 1;
    else if (offset >= spans[mid].end) lo = mid + 1;
    else return spans[mid];
  }
  return undefined;
}
