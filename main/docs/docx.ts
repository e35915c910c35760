// Word documents (.docx): a ZIP whose word/document.xml holds the body. Paragraphs (<w:p>) become
// lines of text: runs' text (<w:t>), tabs and line breaks; table cells are paragraphs too. A .docx
// has no fixed pages (they depend on the printer and fonts), but Word records where it broke pages
// when it last laid the document out (<w:lastRenderedPageBreak/>), and authors insert hard breaks
// (<w:br w:type="page"/>): those give the page numbers a reader sees in Word. Without any, the
// paragraphs are paged like a text file (page 2 = paragraphs 101-200), so a citation still points
// somewhere narrower than "the document".

import { DocumentError, type Document, type DocumentPage } from './document.ts';
import { paginateText } from './text-file.ts';
import { readZipEntries, readZipEntry, ZipError } from './zip.ts';

export interface DocxOptions {
  /** paragraphs per page when the document records no page breaks; default 100 */
  linesPerPage?: number;
}

const BODY = 'word/document.xml';
/** document.xml larger than this is refused (a ZIP bomb, or not a document a model can read). */
const MAX_XML_BYTES = 64 * 1024 * 1024;
// An encrypted Office file is an OLE compound file (the ZIP sits encrypted inside it).
const OLE_SIGNATURE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

/** Throws DocumentError: DOCX_ENCRYPTED, DOCX_CORRUPT, FILE_EMPTY. */
export function readDocx(bytes: Uint8Array, source: string, options: DocxOptions = {}): Document {
  if (bytes.length === 0) throw new DocumentError('FILE_EMPTY', `${source} is empty (0 bytes).`);
  if (OLE_SIGNATURE.every((b, i) => bytes[i] === b)) {
    throw new DocumentError('DOCX_ENCRYPTED', `${source} is password-protected. Save it without a password in Word and open it again.`);
  }
  let xml: string;
  try {
    const entry = readZipEntries(bytes).find((e) => e.name === BODY);
    if (!entry) throw new ZipError(`it has no ${BODY}`);
    xml = new TextDecoder('utf-8', { fatal: true }).decode(readZipEntry(bytes, entry, MAX_XML_BYTES));
  } catch (e) {
    if (e instanceof ZipError || e instanceof TypeError) {
      throw new DocumentError('DOCX_CORRUPT', `${source} is not a readable Word document: ${e.message}.`, { cause: e });
    }
    throw e;
  }
  const pages = docxPages(xml, options.linesPerPage);
  if (pages.length === 0) throw new DocumentError('FILE_EMPTY', `${source} contains no text.`);
  return { source, kind: 'docx', pages, skipped: [] };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, name: string) => {
    if (name[0] !== '#') return ENTITIES[name] ?? whole;
    const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** The body's paragraphs as pages: split at recorded page breaks, else every `linesPerPage` paragraphs. */
export function docxPages(xml: string, linesPerPage?: number): DocumentPage[] {
  const pages: string[][] = [[]];
  let paragraph = '';
  let inText = false;
  // Tags and the text between them, in order; one linear pass (no nesting to track but <w:t>).
  for (const [token] of xml.matchAll(/<[^>]*>|[^<]+/g)) {
    if (token[0] !== '<') {
      if (inText) paragraph += decodeEntities(token);
      continue;
    }
    const name = /^<\/?([\w:]+)/.exec(token)?.[1];
    const closing = token[1] === '/';
    const selfClosing = token.endsWith('/>');
    if (name === 'w:t') inText = !closing && !selfClosing;
    else if (name === 'w:tab' && !closing) paragraph += '\t';
    else if ((name === 'w:br' || name === 'w:cr') && !closing) {
      if (/w:type="page"/.test(token)) {
        pages[pages.length - 1].push(paragraph);
        paragraph = '';
        pages.push([]);
      } else {
        paragraph += '\n';
      }
    } else if (name === 'w:lastRenderedPageBreak') {
      pages[pages.length - 1].push(paragraph);
      paragraph = '';
      pages.push([]);
    } else if (name === 'w:p' && (closing || selfClosing)) {
      pages[pages.length - 1].push(paragraph);
      paragraph = '';
    }
  }
  if (paragraph) pages[pages.length - 1].push(paragraph);
  const texts = pages.map((lines) => lines.map((l) => l.trimEnd()).filter((l) => l.trim() !== '').join('\n'));
  if (pages.length === 1) return paginateText(texts[0], linesPerPage);
  return texts.flatMap((text, i) => (text === '' ? [] : [{ page: i + 1, text }]));
}
