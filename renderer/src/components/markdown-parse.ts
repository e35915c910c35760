// A small Markdown reader for model answers: headings, paragraphs, lists (nested), block quotes,
// fenced code, tables, rules; inline code, emphasis, strike-through, links. It produces a tree of
// plain data that markdown.tsx turns into React elements, so no text is ever parsed as HTML: raw
// HTML in an answer is shown as the characters it is. Unclosed constructs (an answer still
// streaming) degrade to text, or for a code fence, to code up to the end.

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'code'; text: string }
  | { type: 'em' | 'strong' | 'strike'; children: Inline[] }
  /** href is set only for http(s) and mailto URLs; other links show their text alone */
  | { type: 'link'; href?: string; children: Inline[] }
  | { type: 'break' };

export type Block =
  | { type: 'heading'; level: number; children: Inline[] }
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'code'; language: string; text: string }
  | { type: 'quote'; children: Block[] }
  | { type: 'list'; ordered: boolean; start: number; items: Block[][] }
  | { type: 'table'; align: Array<'left' | 'center' | 'right' | undefined>; header: Inline[][]; rows: Inline[][][] }
  | { type: 'rule' };

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])(\s+|$)(.*)$/;
const TABLE_SEPARATOR = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const SAFE_URL = /^(https?:\/\/|mailto:)/i;
const ESCAPABLE = /[\\`*_{}[\]()#+\-.!|~<>"']/;

const isBlank = (line: string) => line.trim() === '';

function startsBlock(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || LIST_ITEM.test(line);
}

export function parseMarkdown(source: string): Block[] {
  return parseBlocks(source.replace(/\r\n?/g, '\n').split('\n'));
}

function parseBlocks(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (isBlank(line)) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1]!;
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trim().startsWith(marker)) body.push(lines[i++]!);
      i++;
      blocks.push({ type: 'code', language: fence[2] ?? '', text: body.join('\n') });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ type: 'heading', level: heading[1]!.length, children: parseInline(heading[2] ?? '') });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ type: 'rule' });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i]!)) inner.push(QUOTE.exec(lines[i++]!)![1]!);
      blocks.push({ type: 'quote', children: parseBlocks(inner) });
      continue;
    }
    if (LIST_ITEM.test(line)) {
      i = parseList(lines, i, blocks);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1]!) && lines[i + 1]!.includes('-')) {
      i = parseTable(lines, i, blocks);
      continue;
    }
    const text: string[] = [];
    while (i < lines.length && !isBlank(lines[i]!) && (text.length === 0 || !startsBlock(lines[i]!))) text.push(lines[i++]!.trim());
    blocks.push({ type: 'paragraph', children: parseInline(text.join('\n')) });
  }
  return blocks;
}

/** One list: items start at the first item's indentation; deeper lines belong to the item above. */
function parseList(lines: string[], start: number, blocks: Block[]): number {
  const first = LIST_ITEM.exec(lines[start]!)!;
  const indent = first[1]!.length;
  const ordered = /\d/.test(first[2]!);
  const items: Block[][] = [];
  let i = start;
  while (i < lines.length) {
    const item = LIST_ITEM.exec(lines[i]!);
    if (!item || item[1]!.length !== indent || /\d/.test(item[2]!) !== ordered) break;
    const contentIndent = indent + item[2]!.length + Math.max(1, item[3]!.length);
    const body = [item[4]!];
    i++;
    while (i < lines.length) {
      const line = lines[i]!;
      const depth = line.length - line.trimStart().length;
      if (isBlank(line)) {
        // A blank line continues the item only if an indented line follows it.
        const next = lines[i + 1];
        if (next === undefined || isBlank(next) || next.length - next.trimStart().length <= indent) break;
        body.push('');
      } else if (depth > indent) {
        body.push(line.slice(Math.min(depth, contentIndent)));
      } else if (!startsBlock(line) && !isBlank(lines[i - 1]!)) {
        body.push(line.trim()); // a lazy continuation of the item's paragraph
      } else {
        break;
      }
      i++;
    }
    items.push(parseBlocks(body));
    while (i < lines.length && isBlank(lines[i]!) && LIST_ITEM.exec(lines[i + 1] ?? '')?.[1]!.length === indent) i++;
  }
  blocks.push({ type: 'list', ordered, start: ordered ? parseInt(first[2]!, 10) : 1, items });
  return i;
}

function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  const inner = line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '');
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '\\' && inner[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (inner[i] === '|') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += inner[i];
    }
  }
  cells.push(cell.trim());
  return cells;
}

function parseTable(lines: string[], start: number, blocks: Block[]): number {
  const header = splitRow(lines[start]!);
  const align = splitRow(lines[start + 1]!).map((spec) => {
    const left = spec.startsWith(':');
    const right = spec.endsWith(':');
    return left && right ? 'center' : right ? 'right' : left ? 'left' : undefined;
  });
  let i = start + 2;
  const rows: Inline[][][] = [];
  while (i < lines.length && !isBlank(lines[i]!) && lines[i]!.includes('|')) {
    const cells = splitRow(lines[i++]!);
    rows.push(header.map((_, c) => parseInline(cells[c] ?? '')));
  }
  blocks.push({ type: 'table', align: header.map((_, c) => align[c]), header: header.map((h) => parseInline(h)), rows });
  return i;
}

/** [label](url "title"): the label's end and the URL, or undefined when the text is no link. */
function matchLink(text: string, open: number): { label: string; url: string; end: number } | undefined {
  let depth = 0;
  let close = -1;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '[') depth++;
    else if (text[i] === ']' && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close < 0 || text[close + 1] !== '(') return undefined;
  let end = -1;
  depth = 0;
  for (let i = close + 1; i < text.length && end < 0; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) end = i;
  }
  if (end < 0) return undefined;
  const target = text.slice(close + 2, end).trim();
  const angle = target.startsWith('<') ? target.indexOf('>') : -1;
  const url = angle > 0 ? target.slice(1, angle) : (target.split(/\s+/)[0] ?? '');
  return { label: text.slice(open + 1, close), url, end: end + 1 };
}

/** The closing delimiter for emphasis opened at `from`; a single * or _ skips doubled ones. */
function findCloser(text: string, from: number, delimiter: string): number {
  for (let j = text.indexOf(delimiter, from); j >= 0; j = text.indexOf(delimiter, j + 1)) {
    if (j === from || /\s/.test(text[j - 1]!)) continue;
    const ch = delimiter[0]!;
    if (delimiter.length === 1 && (text[j + 1] === ch || text[j - 1] === ch)) continue;
    if (ch === '_' && /[\p{L}\p{N}]/u.test(text[j + delimiter.length] ?? '')) continue;
    return j;
  }
  return -1;
}

export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let buffer = '';
  const flush = () => {
    if (buffer) out.push({ type: 'text', text: buffer });
    buffer = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length && ESCAPABLE.test(text[i + 1]!)) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '\n') {
      flush();
      out.push({ type: 'break' });
      i++;
      continue;
    }
    if (c === '`') {
      const run = /^`+/.exec(text.slice(i))![0];
      const close = text.indexOf(run, i + run.length);
      if (close >= 0) {
        flush();
        const code = text.slice(i + run.length, close).replace(/\n/g, ' ');
        out.push({ type: 'code', text: /^ .* $/.test(code) && code.trim() ? code.slice(1, -1) : code });
        i = close + run.length;
      } else {
        buffer += run;
        i += run.length;
      }
      continue;
    }
    const image = c === '!' && text[i + 1] === '[';
    if (c === '[' || image) {
      const link = matchLink(text, image ? i + 1 : i);
      if (link) {
        flush();
        // Images are not fetched: an answer must not make the app load remote content.
        if (image) out.push({ type: 'text', text: link.label });
        else out.push({ type: 'link', href: SAFE_URL.test(link.url) ? link.url : undefined, children: parseInline(link.label) });
        i = link.end;
        continue;
      }
    }
    if (c === '<') {
      const auto = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i.exec(text.slice(i));
      if (auto) {
        flush();
        out.push({ type: 'link', href: auto[1]!, children: [{ type: 'text', text: auto[1]! }] });
        i += auto[0].length;
        continue;
      }
    }
    if (c === '*' || c === '_' || c === '~') {
      const double = text[i + 1] === c;
      if (c === '_' && /[\p{L}\p{N}]/u.test(text[i - 1] ?? '')) {
        buffer += c;
        i++;
        continue;
      }
      const delimiter = double ? c + c : c;
      const kind = c === '~' ? (double ? 'strike' : undefined) : double ? 'strong' : 'em';
      const start = i + delimiter.length;
      const close = kind && !/\s/.test(text[start] ?? ' ') ? findCloser(text, start, delimiter) : -1;
      if (kind && close > start) {
        flush();
        out.push({ type: kind, children: parseInline(text.slice(start, close)) });
        i = close + delimiter.length;
        continue;
      }
      buffer += delimiter;
      i += delimiter.length;
      continue;
    }
    buffer += c;
    i++;
  }
  flush();
  return out;
}
