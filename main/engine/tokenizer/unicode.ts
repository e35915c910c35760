// Code point classes and the GPT-2 byte<->unicode mapping, as llama.cpp's unicode.cpp sees them.
// llama.cpp classifies a code point by its Unicode general category (one class per code point)
// plus a separate White_Space flag; the JS \p{..} escapes give the same classes.

const FLAG_UNDEFINED = 0x0001;
export const FLAG_NUMBER = 0x0002;
export const FLAG_LETTER = 0x0004;
const FLAG_SEPARATOR = 0x0008;
export const FLAG_MARK = 0x0010;
export const FLAG_PUNCTUATION = 0x0020;
export const FLAG_SYMBOL = 0x0040;
const FLAG_CONTROL = 0x0080;
export const FLAG_CATEGORIES = 0x00ff;
export const FLAG_WHITESPACE = 0x0100;

const UNCOMPUTED = 0xffff;
const MAX_CODEPOINT = 0x10ffff;

// [0x110000] lazily filled: a few regex tests per distinct code point, then a table read.
const flagTable = new Uint16Array(MAX_CODEPOINT + 1).fill(UNCOMPUTED);

const CATEGORY_TESTS: Array<[RegExp, number]> = [
  [/^\p{L}$/u, FLAG_LETTER],
  [/^\p{N}$/u, FLAG_NUMBER],
  [/^\p{P}$/u, FLAG_PUNCTUATION],
  [/^\p{S}$/u, FLAG_SYMBOL],
  [/^\p{M}$/u, FLAG_MARK],
  [/^\p{Z}$/u, FLAG_SEPARATOR],
  [/^\p{Cn}$/u, FLAG_UNDEFINED],
  [/^\p{C}$/u, FLAG_CONTROL],
];
const WHITESPACE_TEST = /^\p{White_Space}$/u;

/** llama.cpp's unicode_cpt_flags for a code point: one category bit plus FLAG_WHITESPACE. */
export function codepointFlags(cpt: number): number {
  if (cpt > MAX_CODEPOINT) return FLAG_UNDEFINED;
  let flags = flagTable[cpt];
  if (flags !== UNCOMPUTED) return flags;
  const ch = String.fromCodePoint(cpt);
  flags = FLAG_UNDEFINED;
  for (const [re, flag] of CATEGORY_TESTS) {
    if (re.test(ch)) {
      flags = flag;
      break;
    }
  }
  if (WHITESPACE_TEST.test(ch)) flags |= FLAG_WHITESPACE;
  flagTable[cpt] = flags;
  return flags;
}

// GPT-2's reversible byte<->unicode table: printable bytes map to themselves, the other 68
// bytes to U+0100.. in byte order, so every byte has a visible, non-space character.
const BYTE_TO_CHAR: string[] = new Array(256);
const CHAR_TO_BYTE = new Map<string, number>();
{
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const ch = String.fromCodePoint(printable ? b : 256 + n++);
    BYTE_TO_CHAR[b] = ch;
    CHAR_TO_BYTE.set(ch, b);
  }
}

const utf8Encoder = new TextEncoder();

/** The byte-level (GPT-2) encoding of a string: one character per UTF-8 byte. */
export function byteEncode(text: string): string {
  let ascii = true;
  for (let i = 0; i < text.length && ascii; i++) ascii = text.charCodeAt(i) < 0x80;
  if (ascii) {
    let out = '';
    for (let i = 0; i < text.length; i++) out += BYTE_TO_CHAR[text.charCodeAt(i)];
    return out;
  }
  const bytes = utf8Encoder.encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/**
 * Bytes of a byte-level token text. A character outside the table (only in a malformed
 * vocabulary) is kept as its own UTF-8; llama.cpp writes an "[UNK_BYTE_0x..]" marker there.
 */
export function byteDecode(tokenText: string): Uint8Array {
  const out: number[] = [];
  for (const ch of tokenText) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b !== undefined) out.push(b);
    else for (const x of utf8Encoder.encode(ch)) out.push(x);
  }
  return Uint8Array.from(out);
}

export function utf8Bytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
