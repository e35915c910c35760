// PDF → page-tagged text with pdfjs-dist (the legacy build runs on Node 20 without a DOM).
// pdfjs gives positioned text runs; pdf-layout.ts turns them into reading-order text.

import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PDFDocumentProxy } from 'pdfjs-dist/types/src/display/api.js';
import { DocumentError, type Document, type DocumentPage, type SkipNote } from './document.ts';
import { layoutPages, type LayoutItem, type LayoutPage } from './pdf-layout.ts';

type Pdfjs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');

export interface PdfOptions {
  /** the user password of an encrypted PDF */
  password?: string;
  /** name used in the document and in messages (defaults to the file's base name) */
  source?: string;
  signal?: AbortSignal;
}

// Font and CMap data shipped with pdfjs-dist: needed for the 14 standard fonts and CJK CMaps that
// PDFs reference without embedding.
const pdfjsRoot = path.dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));
const PDFJS_DATA = {
  standardFontDataUrl: path.join(pdfjsRoot, 'standard_fonts') + path.sep,
  cMapUrl: path.join(pdfjsRoot, 'cmaps') + path.sep,
  cMapPacked: true,
  wasmUrl: path.join(pdfjsRoot, 'wasm') + path.sep,
};

// Loaded on the first PDF: pdfjs takes ~0.3 s to load under plain Node and ~1-3 s under tsx,
// which folders without PDFs and text-only callers should not pay.
let pdfjsModule: Promise<Pdfjs> | undefined;
const loadPdfjs = (): Promise<Pdfjs> => (pdfjsModule ??= import('pdfjs-dist/legacy/build/pdf.mjs'));

const NEED_PASSWORD = 1; // pdfjs PasswordResponses
// Glyph ids leak out as control characters when a font has no usable encoding.
const CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F]/g;

/** True when the bytes start with the PDF signature (for PDFs saved without a .pdf name). */
export function looksLikePdf(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 5)).toString('latin1') === '%PDF-';
}

export async function readPdfFile(file: string, options: PdfOptions = {}): Promise<Document> {
  const source = options.source ?? path.basename(file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw fileReadError(source, e);
  }
  return readPdf(bytes, { ...options, source });
}

/** Reads every page's text. Throws DocumentError: PDF_ENCRYPTED, PDF_BAD_PASSWORD, PDF_CORRUPT, PDF_NO_TEXT, FILE_EMPTY, CANCELLED. */
export async function readPdf(bytes: Uint8Array, options: PdfOptions = {}): Promise<Document> {
  const source = options.source ?? 'document.pdf';
  if (bytes.length === 0) throw new DocumentError('FILE_EMPTY', `${source} is empty (0 bytes).`);
  const { getDocument, VerbosityLevel } = await loadPdfjs();
  const task = getDocument({
    data: new Uint8Array(bytes), // pdfjs takes ownership of (detaches) the buffer it is given
    password: options.password,
    verbosity: VerbosityLevel.ERRORS,
    isEvalSupported: false,
    useSystemFonts: false,
    ...PDFJS_DATA,
  });
  let doc: PDFDocumentProxy;
  try {
    doc = await task.promise;
  } catch (e) {
    await task.destroy();
    throw openError(source, e, options.password);
  }
  try {
    return await readPages(doc, source, options.signal);
  } finally {
    await task.destroy();
  }
}

async function readPages(doc: PDFDocumentProxy, source: string, signal: AbortSignal | undefined): Promise<Document> {
  const layout: LayoutPage[] = []; // a page that cannot be read keeps its place, with no text
  const skipped: SkipNote[] = [];
  for (let n = 1; n <= doc.numPages; n++) {
    if (signal?.aborted) throw new DocumentError('CANCELLED', `Reading ${source} was cancelled.`);
    try {
      layout.push(await pageLayout(doc, n));
    } catch (e) {
      layout.push({ width: 1, height: 1, items: [] });
      skipped.push({ source, page: n, code: 'PDF_CORRUPT', reason: `Page ${n} of ${source} is damaged and cannot be read (${messageOf(e)}).` });
    }
  }
  if (skipped.length === doc.numPages) {
    throw new DocumentError('PDF_CORRUPT', `${source} is damaged: none of its ${doc.numPages} page(s) can be read.`, { skipped });
  }
  const pages: DocumentPage[] = [];
  layoutPages(layout).forEach((text, i) => {
    const page = i + 1;
    if (text !== '') pages.push({ page, text });
    else if (!skipped.some((note) => note.page === page) && layout[i].items.every((item) => item.text.trim() === '')) {
      skipped.push({ source, page, code: 'PDF_PAGE_NO_TEXT', reason: `Page ${page} of ${source} has no text layer (a scanned image?).` });
    }
  });
  skipped.sort((a, b) => (a.page ?? 0) - (b.page ?? 0));
  if (pages.length === 0) {
    throw new DocumentError(
      'PDF_NO_TEXT',
      `${source} has no text layer: it looks like a scanned document. Run it through OCR (for example ocrmypdf) and open the result.`,
      { skipped },
    );
  }
  return { source, kind: 'pdf', pages, skipped };
}

async function pageLayout(doc: PDFDocumentProxy, n: number): Promise<LayoutPage> {
  const { Util } = await loadPdfjs();
  const page = await doc.getPage(n);
  try {
    // Viewport space applies the page's /Rotate and crop box, so a landscape page drawn rotated
    // reads upright. Its y grows downwards; layout wants the baseline measured up from the bottom.
    const viewport = page.getViewport({ scale: 1 });
    const content = await page.getTextContent();
    const items: LayoutItem[] = [];
    for (const item of content.items) {
      if (!('str' in item)) continue; // marked-content boundaries carry no text
      const [, , c, d, e, f] = Util.transform(viewport.transform, item.transform as number[]);
      items.push({ text: item.str.replace(CONTROL_CHARS, ''), x: e, y: viewport.height - f, width: item.width, fontSize: Math.hypot(c, d) || item.height });
    }
    return { width: viewport.width, height: viewport.height, items };
  } finally {
    page.cleanup();
  }
}

function openError(source: string, e: unknown, password: string | undefined): DocumentError {
  const name = (e as { name?: unknown })?.name;
  if (name === 'PasswordException') {
    if ((e as { code?: unknown }).code === NEED_PASSWORD || password === undefined) {
      return new DocumentError('PDF_ENCRYPTED', `${source} is password-protected. Enter its password to open it.`, { cause: e });
    }
    return new DocumentError('PDF_BAD_PASSWORD', `The password for ${source} is not correct. Try again.`, { cause: e });
  }
  return new DocumentError('PDF_CORRUPT', `${source} is not a readable PDF (${messageOf(e)}). It may be damaged or incomplete.`, { cause: e });
}

export function fileReadError(source: string, e: unknown): DocumentError {
  const code = (e as { code?: unknown })?.code;
  if (code === 'ENOENT') return new DocumentError('FILE_NOT_FOUND', `${source} does not exist.`, { cause: e });
  if (code === 'ELOOP') return new DocumentError('SYMLINK_LOOP', `${source} is a symbolic link in a loop: it never reaches a file.`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') {
    return new DocumentError('FILE_UNREADABLE', `${source} cannot be read: permission denied.`, { cause: e });
  }
  return new DocumentError('FILE_UNREADABLE', `${source} cannot be read (${messageOf(e)}).`, { cause: e });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
