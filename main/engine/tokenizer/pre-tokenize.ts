// Pre-tokenization of byte-level BPE models: text -> words, as llama.cpp's unicode_regex_split
// does it for each `tokenizer.ggml.pre`. Each model applies a list of splitters in turn, each one
// cutting the pieces the previous one left (matches and the gaps between them both survive).
// llama.cpp runs hand-written scanners for the GPT-2, Llama-3 and Qwen2 regexes and std::regex
// for the rest; both are reproduced here, quirks included, because the goal is its token ids.

import {
  FLAG_CATEGORIES,
  FLAG_LETTER,
  FLAG_MARK,
  FLAG_NUMBER,
  FLAG_PUNCTUATION,
  FLAG_SYMBOL,
  FLAG_WHITESPACE,
  codepointFlags,
} from './unicode.ts';

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const APOSTROPHE = 0x27;

/** The text of one pre-tokenizer pass: code points and their flags, plus lazily built views. */
class SplitInput {
  private collapsedText?: string;
  private wideText?: string;

  constructor(
    readonly cpts: number[], // [n_cpts]
    readonly flags: Uint16Array, // [n_cpts]
    readonly wideIndex: number[], // [n_cpts + 1] UTF-16 index of each code point in the text
  ) {}

  /** one UTF-16 unit per code point, see collapsedChar() */
  get collapsed(): string {
    if (this.collapsedText === undefined) {
      const parts = new Array<string>(this.cpts.length);
      for (let i = 0; i < this.cpts.length; i++) parts[i] = collapsedChar(this.cpts[i], this.flags[i]);
      this.collapsedText = parts.join('');
    }
    return this.collapsedText;
  }

  /** the text with non-ASCII whitespace as \v, which is how std::wregex gets it in llama.cpp */
  get wide(): string {
    if (this.wideText === undefined) {
      const parts = new Array<string>(this.cpts.length);
      for (let i = 0; i < this.cpts.length; i++) {
        parts[i] = this.cpts[i] > 0x7f && this.flags[i] & FLAG_WHITESPACE ? '\x0b' : String.fromCodePoint(this.cpts[i]);
      }
      this.wideText = parts.join('');
    }
    return this.wideText;
  }
}

type Splitter = (input: SplitInput, offsets: number[]) => number[];

export interface PreTokenizerSpec {
  splitters: Splitter[];
  /** words found whole in the vocabulary skip BPE (tokenizer.json's ignore_merges) */
  ignoreMerges: boolean;
  /** llama.cpp's add_bos default for this pre type, before tokenizer.ggml.add_bos_token */
  addBos: boolean;
  /** llama.cpp drops the BOS id for this pre type (ChatGLM) */
  noBos: boolean;
}

// The hand-written scanners: each returns where the word starting at `pos` ends, looking no
// further than `end` (the end of the piece being split; flags past it read as 0).
type WordEnd = (cpts: number[], flags: Uint16Array, pos: number, end: number) => number;

function scanner(wordEnd: WordEnd): Splitter {
  return ({ cpts, flags }, offsets) => {
    const out: number[] = [];
    let start = 0;
    for (const length of offsets) {
      const end = start + length;
      for (let pos = start; pos < end; ) {
        const e = wordEnd(cpts, flags, pos, end);
        out.push(e - pos);
        pos = e;
      }
      start = end;
    }
    return out;
  };
}

const LNW = FLAG_LETTER | FLAG_NUMBER | FLAG_WHITESPACE;

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
const gpt2WordEnd: WordEnd = (cpts, flags, pos, end) => {
  const cpt = cpts[pos];
  if (cpt === APOSTROPHE && pos + 1 < end) {
    const next = cpts[pos + 1];
    if (next === 0x73 || next === 0x74 || next === 0x6d || next === 0x64) return pos + 2; // s t m d
    if (pos + 2 < end && isTwoLetterContraction(next, cpts[pos + 2])) return pos + 3;
  }
  const from = cpt === SPACE ? pos + 1 : pos;
  const f = from < end ? flags[from] : 0;
  if (f & FLAG_LETTER) return runEnd(flags, from, end, FLAG_LETTER);
  if (f & FLAG_NUMBER) return runEnd(flags, from, end, FLAG_NUMBER);
  if (f !== 0 && !(f & LNW)) {
    let p = from;
    while (p < end && !(flags[p] & LNW)) p++;
    return p;
  }
  return whitespaceEnd(cpts, flags, pos, end, false);
};

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
function llama3WordEnd(maxDigits: number): WordEnd {
  return (cpts, flags, pos, end) => {
    const cpt = cpts[pos];
    const f = flags[pos];
    if (cpt === APOSTROPHE && pos + 1 < end) {
      const next = asciiLower(cpts[pos + 1]);
      if (next === 0x73 || next === 0x74 || next === 0x6d || next === 0x64) return pos + 2;
      if (pos + 2 < end && isTwoLetterContraction(next, asciiLower(cpts[pos + 2]))) return pos + 3;
    }
    if (!(cpt === CR || cpt === LF || f & FLAG_NUMBER) && (f & FLAG_LETTER || (pos + 1 < end && flags[pos + 1] & FLAG_LETTER))) {
      return runEnd(flags, pos + 1, end, FLAG_LETTER);
    }
    if (f & FLAG_NUMBER) return Math.min(runEnd(flags, pos, end, FLAG_NUMBER), pos + maxDigits);
    const from = cpt === SPACE ? pos + 1 : pos;
    // a lone trailing space lands here too (llama.cpp tests the space's own flags): same result as \s+
    if (!((from < end ? flags[from] : 0) & LNW)) {
      let p = from;
      while (p < end && !(flags[p] & LNW)) p++;
      while (p < end && (cpts[p] === CR || cpts[p] === LF)) p++;
      return p;
    }
    return whitespaceEnd(cpts, flags, pos, end, true);
  };
}

function runEnd(flags: Uint16Array, p: number, end: number, mask: number): number {
  while (p < end && flags[p] & mask) p++;
  return p;
}

// \s*[\r\n]+ (when `newlines`) | \s+(?!\S) | \s+ | any single character
function whitespaceEnd(cpts: number[], flags: Uint16Array, pos: number, end: number, newlines: boolean): number {
  let p = pos;
  let lastNewlineEnd = 0;
  while (p < end && flags[p] & FLAG_WHITESPACE) {
    if (newlines && (cpts[p] === CR || cpts[p] === LF)) lastNewlineEnd = p + 1;
    p++;
  }
  if (lastNewlineEnd > 0) return lastNewlineEnd; // reaches the last newline of the run
  const n = p - pos;
  if (n > 1 && p < end) return p - 1; // leave the last space to prefix the next word
  if (n > 0) return p;
  return pos + 1;
}

function asciiLower(cpt: number): number {
  return cpt >= 0x41 && cpt <= 0x5a ? cpt + 0x20 : cpt;
}

function isTwoLetterContraction(a: number, b: number): boolean {
  return (a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c); // re ve ll
}

// llama.cpp runs regexes that use \p{..} on a "collapsed" text: ASCII stays, every other code
// point becomes one stand-in byte for its class, and \p{X} becomes [stand-in + ASCII members].
const COLLAPSED_CLASS: Record<string, string> = {
  N: '\xd10-9',
  L: '\xd2A-Za-z',
  P: '\xd3!-#%-*,-/:-;?-@\\[-\\]_\\{\\}',
  M: '\xd4',
  S: '\xd5\\$\\+<->\\^`\\|~',
};
const PROPERTY_TO_CLASS: Record<string, string> = { N: 'N', L: 'L', P: 'P', M: 'M', S: 'S', Lu: 'L', Ll: 'L', Lt: 'L', Lm: 'L', Lo: 'L' };
const PROPERTY_RE = /\\p\{(N|L|P|M|S|Lu|Ll|Lt|Lm|Lo)\}/;

function collapsedChar(cpt: number, flags: number): string {
  if (cpt < 128) return String.fromCharCode(cpt);
  if (flags & FLAG_WHITESPACE) return '\x0b';
  switch (flags & FLAG_CATEGORIES) {
    case FLAG_NUMBER: return '\xd1';
    case FLAG_LETTER: return '\xd2';
    case FLAG_PUNCTUATION: return '\xd3';
    case FLAG_MARK: return '\xd4';
    case FLAG_SYMBOL: return '\xd5';
    default: return '\xd0';
  }
}

function collapseRegex(expr: string): string {
  let out = '';
  let inside = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (ch === '[' && (i === 0 || expr[i - 1] !== '\\')) {
      inside = true;
      out += ch;
      continue;
    }
    if (inside && ch === ']' && expr[i - 1] !== '\\') {
      inside = false;
      out += ch;
      continue;
    }
    const m = ch === '\\' ? PROPERTY_RE.exec(expr.slice(i, i + 6)) : null;
    if (m && m.index === 0) {
      const cls = COLLAPSED_CLASS[PROPERTY_TO_CLASS[m[1]]];
      out += inside ? cls : `[${cls}]`;
      i += m[0].length - 1;
      continue;
    }
    out += ch;
  }
  return out;
}

// std::regex's \s is the six ASCII spaces (non-ASCII whitespace was already turned into \v).
function asciiWhitespaceRegex(expr: string): string {
  let out = '';
  let inside = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    if (ch === '\\' && i + 1 < expr.length) {
      const next = expr[i + 1];
      if (next === 's') out += inside ? '\\t\\n\\v\\f\\r ' : '[\\t\\n\\v\\f\\r ]';
      else if (next === 'S' && !inside) out += '[^\\t\\n\\v\\f\\r ]';
      else out += ch + next;
      i++;
      continue;
    }
    if (ch === '[') inside = true;
    else if (ch === ']') inside = false;
    out += ch;
  }
  return out;
}

function regexSplitter(expr: string): Splitter {
  const collapsed = PROPERTY_RE.test(expr);
  const re = collapsed ? new RegExp(collapseRegex(expr), 'g') : new RegExp(asciiWhitespaceRegex(expr), 'gu');
  return (input, offsets) => {
    const out: number[] = [];
    // the collapsed text has one UTF-16 unit per code point; the wide text needs the index map
    const text = collapsed ? input.collapsed : input.wide;
    const span = (a: number, b: number): number => (collapsed ? b - a : countCodepoints(text, a, b));
    let start = 0;
    for (const length of offsets) {
      const from = collapsed ? start : input.wideIndex[start];
      const to = collapsed ? start + length : input.wideIndex[start + length];
      const piece = text.slice(from, to);
      let last = 0;
      re.lastIndex = 0;
      for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        if (m.index > last) out.push(span(from + last, from + m.index));
        out.push(span(from + m.index, from + m.index + m[0].length));
        last = m.index + m[0].length;
      }
      if (last < piece.length) out.push(span(from + last, to));
      start += length;
    }
    return out;
  };
}

function countCodepoints(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

const GPT2 = scanner(gpt2WordEnd);
const LLAMA3 = scanner(llama3WordEnd(3));
const QWEN2 = scanner(llama3WordEnd(1));
const re = regexSplitter;

function spec(splitters: Splitter[], options: Partial<Omit<PreTokenizerSpec, 'splitters'>> = {}): PreTokenizerSpec {
  return { splitters, ignoreMerges: false, addBos: false, noBos: false, ...options };
}

const LLAMA3_SPEC = spec([LLAMA3], { ignoreMerges: true, addBos: true });
const QWEN2_SPEC = spec([QWEN2]);
const STARCODER_SPEC = spec([re('\\p{N}'), GPT2]);
const GPT2_SPEC = spec([GPT2]);
const DEFAULT_SPEC = spec([re('[\\p{P}\\$\\+<=>\\^~\\|]+'), GPT2, re('\\p{N}+'), re('[0-9][0-9][0-9]')]);

const NAMED_SPECS: Array<[string[], PreTokenizerSpec]> = [
  [['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'jina-v5-nano'], LLAMA3_SPEC],
  [['dbrx', 'smaug-bpe'], spec([LLAMA3])],
  [['glm4', 'chatglm-bpe'], spec([LLAMA3], { noBos: true })],
  [['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'megrez', 'stablelm2', 'hunyuan', 'solar-open', 'grok-2'], QWEN2_SPEC],
  [['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b', 'mellum2'], STARCODER_SPEC],
  [
    [
      'gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v2-es', 'jina-v2-de', 'a.x-4.0', 'mellum', 'modern-bert',
      'mpt', 'olmo', 'jais', 'trillion', 'granite-docling', 'exaone4', 'jina-v1-en', 'jina-v2-code', 'roberta-bpe',
    ],
    GPT2_SPEC,
  ],
  [['', 'default'], DEFAULT_SPEC],
  [['falcon'], spec([re('[\\p{P}\\$\\+<=>\\^~\\|`]+'), GPT2, re('[0-9][0-9][0-9]')])],
  [
    ['tekken'],
    spec(
      [
        re(
          '[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
        ),
      ],
      { ignoreMerges: true, addBos: true },
    ),
  ],
  [
    ['gpt-4o', 'llama4', 'kanana2', 'talkie', 'minimax-m2'],
    spec([
      re(
        "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      ),
    ]),
  ],
];

const SPECS = new Map<string, PreTokenizerSpec>();
for (const [names, s] of NAMED_SPECS) for (const name of names) SPECS.set(name, s);

/** The pre-tokenizer for a `tokenizer.ggml.pre` value, or undefined when it is not supported. */
export function preTokenizerSpec(pre: string | undefined): PreTokenizerSpec | undefined {
  return SPECS.get(pre ?? '');
}

export function supportedPreTokenizers(): string[] {
  return [...SPECS.keys()].filter((name) => name !== '');
}

/** Splits text into the words that BPE merges separately (code point strings, not byte-encoded). */
export function preTokenize(spec: PreTokenizerSpec, text: string): string[] {
  const cpts: number[] = [];
  const wideIndex: number[] = [];
  for (let i = 0; i < text.length; i++) {
    wideIndex.push(i);
    const c = text.codePointAt(i)!;
    cpts.push(c);
    if (c > 0xffff) i++;
  }
  wideIndex.push(text.length);
  const n = cpts.length;
  const flags = new Uint16Array(n); // [n_cpts]
  for (let i = 0; i < n; i++) flags[i] = codepointFlags(cpts[i]);
  const input = new SplitInput(cpts, flags, wideIndex);
  let offsets = n > 0 ? [n] : [];
  for (const split of spec.splitters) offsets = split(input, offsets);

  const words: string[] = new Array(offsets.length);
  let pos = 0;
  for (let w = 0; w < offsets.length; w++) {
    words[w] = text.slice(wideIndex[pos], wideIndex[pos + offsets[w]]);
    pos += offsets[w];
  }
  return words;
}
