// Reading order for PDF text: positioned text runs (as pdfjs reports them) become lines, lines
// become page text. Handles two-column pages, tables (cells kept in row order), hyphenation at line
// ends, and running headers/footers repeated across pages. Pure functions, no pdfjs types, so the
// rules can be tested on hand-made pages.

/** One run of text; coordinates in PDF points, y is the baseline measured up from the page bottom. */
export interface LayoutItem {
  text: string;
  x: number;
  y: number;
  width: number;
  fontSize: number;
}

export interface LayoutPage {
  width: number;
  height: number;
  items: LayoutItem[];
}

interface Line {
  y: number;
  fontSize: number;
  items: LayoutItem[]; // sorted by x, no whitespace-only runs
}

// Gaps, in multiples of the font size. Justified prose in a narrow column stretches word gaps to
// ~1.4 em (measured on the fixtures); table cells and column gutters are wider.
const CELL_GAP_EM = 2;
// A line "crosses" a candidate gutter when words sit closer than this on both sides of it.
const GUTTER_MIN_EM = 1;
const SPACE_GAP_EM = 0.15;
// Running headers/footers: text in the outer band of the page, among its first/last lines,
// repeated (digits ignored) on this share of the pages.
const MARGIN_BAND = 0.12;
const EDGE_LINES = 2;
const REPEAT_SHARE = 0.6;
const REPEAT_MIN_PAGES = 3;
const PAGE_NUMBER = /^(page|p\.|seite|pagina|página)?\s*[-–—]?\s*(\d+|[ivxlcdm]+)\s*[-–—]?\s*((of|von|de|\/)\s*\d+)?$/i;
// Table-of-contents leaders (". . . . ." or "......"): dozens of tokens that carry nothing.
const DOT_LEADER = /(?:\s?\.){5,}\s?/g;
const HYPHENS = /[-\u00AD\u2010]$/;

/** Plain text for every page, in reading order, with running headers and footers removed. */
export function layoutPages(pages: LayoutPage[]): string[] {
  const lined = pages.map(groupLines);
  const repeated = repeatedEdgeTexts(pages, lined);
  const offsets = pageNumberOffsets(pages, lined);
  return pages.map((page, i) => {
    const edges = edgeLines(page, lined[i]);
    const running = (line: Line) => {
      if (!edges.includes(line)) return false;
      const text = lineText(line.items, line.fontSize);
      const n = edgeNumber(text);
      return repeated.has(edgeKey(line)) || PAGE_NUMBER.test(text) || (n !== undefined && offsets.has(n - i));
    };
    return blocksToText(readingOrder(page, lined[i].filter((line) => !running(line))));
  });
}

function groupLines(page: LayoutPage): Line[] {
  const items = page.items.filter((item) => item.text.trim() !== '' && Number.isFinite(item.x) && Number.isFinite(item.y));
  items.sort((a, b) => b.y - a.y || a.x - b.x);
  const lines: Line[] = [];
  for (const item of items) {
    const size = Math.max(item.fontSize, 1);
    // Superscripts (footnote and citation marks) sit ~0.35 em of the body size above the
    // baseline; the next line is at least ~1.1 em away.
    const line = lines.find((l) => Math.abs(l.y - item.y) <= 0.45 * Math.max(size, l.fontSize));
    if (line) {
      line.items.push(item);
      line.fontSize = Math.max(line.fontSize, size);
    } else {
      lines.push({ y: item.y, fontSize: size, items: [item] });
    }
  }
  for (const line of lines) line.items.sort((a, b) => a.x - b.x);
  return lines.sort((a, b) => b.y - a.y);
}

function lineText(items: LayoutItem[], fontSize: number): string {
  let text = '';
  let end = -Infinity;
  for (const item of items) {
    const gap = item.x - end;
    if (text !== '') {
      if (gap > CELL_GAP_EM * fontSize) text = text.trimEnd() + '\t';
      else if (gap > SPACE_GAP_EM * fontSize && !/\s$/.test(text) && !/^\s/.test(item.text)) text += ' ';
    }
    text += item.text;
    end = Math.max(end, item.x + item.width);
  }
  return text.replace(/\u00AD(?!$)/g, '').replace(DOT_LEADER, ' … ').trim();
}

function edgeKey(line: Line): string {
  return lineText(line.items, line.fontSize).replace(/\d+/g, '#').replace(/\s+/g, ' ').toLowerCase();
}

function edgeLines(page: LayoutPage, lines: Line[]): Line[] {
  const band = MARGIN_BAND * page.height;
  const top = lines.slice(0, EDGE_LINES).filter((l) => l.y >= page.height - band);
  const bottom = lines.slice(-EDGE_LINES).filter((l) => l.y <= band);
  return [...new Set([...top, ...bottom])];
}

// Books alternate running heads (title on even pages, chapter on odd ones), so repeats are
// counted over all pages and over each parity.
function repeatedEdgeTexts(pages: LayoutPage[], lined: Line[][]): Set<string> {
  const repeated = new Set<string>();
  const all = pages.map((_, i) => i);
  for (const group of [all, all.filter((i) => i % 2 === 0), all.filter((i) => i % 2 === 1)]) {
    if (group.length < REPEAT_MIN_PAGES) continue;
    const counts = new Map<string, number>();
    for (const i of group) {
      for (const key of new Set(edgeLines(pages[i], lined[i]).map(edgeKey))) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, n] of counts) if (n >= REPEAT_SHARE * group.length) repeated.add(key);
  }
  return repeated;
}

/** The number a running head or foot starts or ends with ("Chapter 2: Methods   13", "14  Results"). */
function edgeNumber(text: string): number | undefined {
  const match = /^(\d+)\s|\s(\d+)$/.exec(text);
  return match ? Number(match[1] ?? match[2]) : undefined;
}

// Running heads whose text changes with the chapter still carry the page number: an edge-line
// number that is the page index plus the same offset on most pages is a page number.
function pageNumberOffsets(pages: LayoutPage[], lined: Line[][]): Set<number> {
  const offsets = new Set<number>();
  if (pages.length < REPEAT_MIN_PAGES) return offsets;
  const counts = new Map<number, number>();
  pages.forEach((page, i) => {
    const seen = new Set<number>();
    for (const line of edgeLines(page, lined[i])) {
      const n = edgeNumber(lineText(line.items, line.fontSize));
      if (n !== undefined) seen.add(n - i);
    }
    for (const offset of seen) counts.set(offset, (counts.get(offset) ?? 0) + 1);
  });
  for (const [offset, n] of counts) if (n >= REPEAT_SHARE * pages.length) offsets.add(offset);
  return offsets;
}

// ---- columns ----

/** A block is a run of lines read top to bottom; a two-column stretch yields two blocks. */
type Block = Line[];

function crossesAt(line: Line, x: number): boolean {
  let leftEnd = -Infinity;
  let rightStart = Infinity;
  for (const item of line.items) {
    const end = item.x + item.width;
    if (item.x < x && end > x) return true;
    if (end <= x) leftEnd = Math.max(leftEnd, end);
    else rightStart = Math.min(rightStart, item.x);
  }
  return rightStart - leftEnd < GUTTER_MIN_EM * line.fontSize;
}

function bestGutter(page: LayoutPage, lines: Line[]): number {
  let best = page.width / 2;
  let bestCrossings = Infinity;
  for (let x = Math.round(0.35 * page.width); x <= 0.65 * page.width; x++) {
    const crossings = lines.reduce((n, line) => n + (crossesAt(line, x) ? 1 : 0), 0);
    const closer = Math.abs(x - page.width / 2) < Math.abs(best - page.width / 2);
    if (crossings < bestCrossings || (crossings === bestCrossings && closer)) {
      best = x;
      bestCrossings = crossings;
    }
  }
  return best;
}

function splitLine(line: Line, x: number): [Line | undefined, Line | undefined] {
  const left = line.items.filter((item) => item.x + item.width <= x);
  const right = line.items.filter((item) => item.x >= x);
  return [left.length ? { ...line, items: left } : undefined, right.length ? { ...line, items: right } : undefined];
}

function hasCellGap(line: Line): boolean {
  for (let i = 1; i < line.items.length; i++) {
    const prev = line.items[i - 1];
    if (line.items[i].x - (prev.x + prev.width) > CELL_GAP_EM * line.fontSize) return true;
  }
  return false;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function lineWidth(line: Line): number {
  const last = line.items[line.items.length - 1];
  return last.x + last.width - line.items[0].x;
}

/**
 * Prose columns: at least two lines on each side, no table-like gaps inside a side, and lines that
 * mostly fill their column (so a table of short key/value cells is not mistaken for columns).
 */
function isColumnRun(left: Line[], right: Line[], gutter: number): boolean {
  if (left.length < 2 || right.length < 2) return false;
  if ([...left, ...right].some(hasCellGap)) return false;
  const leftSpan = gutter - Math.min(...left.map((l) => l.items[0].x));
  const rightSpan = Math.max(...right.map((l) => l.items[l.items.length - 1].x + l.items[l.items.length - 1].width)) - gutter;
  return median(left.map(lineWidth)) >= 0.5 * leftSpan && median(right.map(lineWidth)) >= 0.5 * rightSpan;
}

function readingOrder(page: LayoutPage, lines: Line[]): Block[] {
  if (lines.length < 4) return [lines];
  const gutter = bestGutter(page, lines);
  const blocks: Block[] = [];
  let full: Line[] = [];
  let i = 0;
  while (i < lines.length) {
    let j = i;
    while (j < lines.length && !crossesAt(lines[j], gutter)) j++;
    const run = lines.slice(i, j);
    const halves = run.map((line) => splitLine(line, gutter));
    const left = halves.flatMap(([l]) => (l ? [l] : []));
    const right = halves.flatMap(([, r]) => (r ? [r] : []));
    if (run.length >= 3 && isColumnRun(left, right, gutter)) {
      if (full.length) blocks.push(full);
      blocks.push(left, right);
      full = [];
    } else {
      full.push(...run);
    }
    if (j < lines.length) full.push(lines[j]);
    i = j + 1;
  }
  if (full.length) blocks.push(full);
  return blocks;
}

// ---- text ----

function blockText(block: Block): string {
  // The usual line step is the lower quartile of the steps: most steps are plain line breaks, the
  // larger ones paragraph breaks, headings and figures; with two or three lines a median would
  // land on a paragraph break.
  const steps = block.slice(1).map((line, k) => block[k].y - line.y).filter((s) => s > 0).sort((a, b) => a - b);
  const paragraphGap = 1.3 * (steps[Math.floor((steps.length - 1) / 4)] ?? Infinity);
  let text = '';
  block.forEach((line, k) => {
    const content = lineText(line.items, line.fontSize);
    if (k === 0) {
      text = content;
    } else if (block[k - 1].y - line.y > paragraphGap) {
      text += '\n\n' + content;
    } else if (HYPHENS.test(text) && /[\p{L}]$/u.test(text.slice(0, -1)) && /^\p{Ll}/u.test(content)) {
      text = text.slice(0, -1) + content;
    } else {
      text += '\n' + content;
    }
  });
  return text;
}

function blocksToText(blocks: Block[]): string {
  return blocks
    .filter((b) => b.length > 0)
    .map(blockText)
    .join('\n\n')
    .trim();
}
