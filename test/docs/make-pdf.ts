// A minimal PDF writer for tests that need PDFs made at run time (planted facts, many pages): each
// page is a list of lines set in the standard Helvetica font, wrapped by the caller. Only what
// pdfjs needs to read text back: catalog, page tree, one content stream per page, an xref table.

const PAGE_WIDTH = 612; // US Letter, in points
const PAGE_HEIGHT = 792;
const MARGIN = 72;
const FONT_SIZE = 11;
const LEADING = 14;
/** Characters per line at 11 pt Helvetica within the margins (the average glyph is ~0.5 em). */
export const PDF_LINE_CHARS = 85;

/** Lines that fit on one page. */
export const PDF_PAGE_LINES = Math.floor((PAGE_HEIGHT - 2 * MARGIN) / LEADING);

function escapePdfString(text: string): string {
  if (/[^\x20-\x7e]/.test(text)) throw new RangeError(`makePdf writes ASCII only: ${JSON.stringify(text)}`);
  return text.replace(/[\\()]/g, (c) => `\\${c}`);
}

/** Greedy word wrap to PDF_LINE_CHARS; paragraphs are separated by an empty line. */
export function wrapParagraphs(paragraphs: string[], width = PDF_LINE_CHARS): string[] {
  const lines: string[] = [];
  for (const paragraph of paragraphs) {
    if (lines.length > 0) lines.push('');
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    if (line) lines.push(line);
  }
  return lines;
}

/** A PDF with one page per entry of `pages` (each a list of lines, at most PDF_PAGE_LINES). */
export function makePdf(pages: string[][]): Buffer {
  const objects: string[] = []; // objects[i] is object number i + 1
  const add = (body: string): number => objects.push(body);
  const catalog = add('');
  const tree = add('');
  const font = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  const kids: number[] = [];
  for (const lines of pages) {
    if (lines.length > PDF_PAGE_LINES) throw new RangeError(`a page holds ${PDF_PAGE_LINES} lines, got ${lines.length}`);
    const text = lines.map((line) => `(${escapePdfString(line)}) '`).join('\n');
    const content = `BT /F1 ${FONT_SIZE} Tf ${LEADING} TL ${MARGIN} ${PAGE_HEIGHT - MARGIN} Td\n${text}\nET`;
    const stream = add(`<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`);
    kids.push(
      add(`<< /Type /Page /Parent ${tree} 0 R /MediaBox [0 0 ${PAGE_WIDTH} ${PAGE_HEIGHT}] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${stream} 0 R >>`),
    );
  }
  objects[catalog - 1] = `<< /Type /Catalog /Pages ${tree} 0 R >>`;
  objects[tree - 1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`;

  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root ${catalog} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
