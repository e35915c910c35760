// createTokenizer: text <-> token ids for GGUF vocabularies, matching llama.cpp's llama_tokenize
// and llama_token_to_piece. Byte-level BPE ('gpt2') and SentencePiece ('llama') models.

import { bpeWord, type BpeVocab } from './bpe.ts';
import type { TokenizerMetadata } from './metadata.ts';
import { preTokenize, preTokenizerSpec, supportedPreTokenizers, type PreTokenizerSpec } from './pre-tokenize.ts';
import { spmFragment, type SpmVocab } from './spm.ts';
import { byteDecode, byteEncode, utf8Bytes } from './unicode.ts';
import { ATTR_BYTE, ATTR_CONTROL, ATTR_NORMAL, ATTR_UNKNOWN, ATTR_USER_DEFINED, buildVocab, type Vocab } from './vocab.ts';

export interface EncodeOptions {
  /** add BOS/EOS where the model asks for them (llama_tokenize's add_special); default false */
  addSpecial?: boolean;
  /** turn control-token texts in the input into their ids (llama_tokenize's parse_special); default false */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** render control and unknown tokens as their text instead of dropping them; default false */
  special?: boolean;
}

export interface StreamDecoder {
  /** text completed by this token; bytes of a character split across tokens wait for the rest */
  push(id: number): string;
  /** whatever is still held back, an unfinished character becoming U+FFFD */
  flush(): string;
}

export interface Tokenizer {
  readonly nVocab: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  /** whether encode({ addSpecial: true }) prepends BOS / appends EOS */
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly chatTemplate: string | undefined;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
  /** what the token renders as (control tokens included); lossy for a lone byte token */
  tokenToPiece(id: number): string;
  /** the bytes a token renders as (llama_token_to_piece) */
  tokenBytes(id: number, options?: DecodeOptions): Uint8Array;
  /** the token's text as stored in the vocabulary ("<|im_end|>", "Ġthe", "▁the") */
  tokenText(id: number): string;
  isEog(id: number): boolean;
  /** control, user-defined or unknown: the tokens parseSpecial recognises in text */
  isSpecial(id: number): boolean;
  /** one line for people: "byte-level BPE, pre-tokenizer 'smollm'" */
  describe(): string;
}

export class TokenizerError extends Error {
  constructor(readonly code: 'TOKENIZER_UNSUPPORTED' | 'TOKENIZER_BAD_TOKEN', message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

type Fragment = string | number; // raw text, or a special token id cut out of it

const WORD_CACHE_LIMIT = 100_000;
const SPM_SPACE = '\u2581';

export function createTokenizer(meta: TokenizerMetadata): Tokenizer {
  if (meta.model === 'gpt2') return new BpeTokenizer(meta);
  if (meta.model === 'llama') return new SpmTokenizer(meta);
  throw new TokenizerError('TOKENIZER_UNSUPPORTED', `tokenizer.ggml.model '${meta.model}' is not supported (expected 'gpt2' or 'llama')`);
}

abstract class BaseTokenizer implements Tokenizer {
  readonly nVocab: number;
  readonly chatTemplate: string | undefined;
  abstract readonly addBos: boolean;
  abstract readonly addEos: boolean;
  protected abstract readonly addSpacePrefix: boolean;
  private readonly pieces: Array<Uint8Array | undefined>; // [n_vocab] rendered with special = true

  constructor(protected readonly vocab: Vocab, meta: TokenizerMetadata) {
    this.nVocab = vocab.texts.length;
    this.chatTemplate = meta.chatTemplate;
    this.pieces = new Array(this.nVocab);
  }

  get bos(): number | undefined {
    return this.vocab.bos;
  }
  get eos(): number | undefined {
    return this.vocab.eos;
  }
  get eot(): number | undefined {
    return this.vocab.eot;
  }

  abstract describe(): string;
  protected abstract encodeFragments(fragments: Fragment[], out: number[]): void;
  protected abstract renderNormal(text: string): Uint8Array;

  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (options.addSpecial && this.addBos && this.vocab.bos !== undefined) out.push(this.vocab.bos);
    const fragments = text === '' ? [] : this.partition(toWellFormed(text), options.parseSpecial ?? false);
    this.encodeFragments(fragments, out);
    if (options.addSpecial && this.addEos && this.vocab.eos !== undefined) out.push(this.vocab.eos);
    return out;
  }

  // llama.cpp's tokenizer_st_partition: each special token in turn (longest first) is cut out of
  // every raw-text fragment that is left, so a longer token wins over a shorter one inside it.
  private partition(text: string, parseSpecial: boolean): Fragment[] {
    let fragments: Fragment[] = [text];
    for (const id of this.vocab.specialTokens) {
      if (!parseSpecial && this.vocab.attrs[id] & (ATTR_CONTROL | ATTR_UNKNOWN)) continue;
      const needle = this.vocab.texts[id];
      if (!fragments.some((f) => typeof f === 'string' && f.includes(needle))) continue;
      const next: Fragment[] = [];
      for (const f of fragments) {
        if (typeof f !== 'string') {
          next.push(f);
          continue;
        }
        let from = 0;
        for (let at = f.indexOf(needle); at !== -1; at = f.indexOf(needle, from)) {
          if (at > from) next.push(f.slice(from, at));
          next.push(id);
          from = at + needle.length;
        }
        if (from < f.length) next.push(f.slice(from));
      }
      fragments = next;
    }
    return fragments;
  }

  tokenBytes(id: number, options: DecodeOptions = {}): Uint8Array {
    this.checkId(id);
    if (!options.special && this.vocab.attrs[id] & (ATTR_CONTROL | ATTR_UNKNOWN)) return EMPTY;
    let piece = this.pieces[id];
    if (piece === undefined) {
      piece = this.render(id);
      this.pieces[id] = piece;
    }
    return piece;
  }

  private render(id: number): Uint8Array {
    const attr = this.vocab.attrs[id];
    const text = this.vocab.texts[id];
    if (attr & (ATTR_CONTROL | ATTR_UNKNOWN | ATTR_USER_DEFINED)) return utf8Bytes(text);
    if (attr & ATTR_NORMAL) return this.renderNormal(text);
    if (attr & ATTR_BYTE) return Uint8Array.of(parseInt(text.slice(3, 5), 16) || 0);
    return EMPTY;
  }

  tokenToPiece(id: number): string {
    return utf8Decoder().decode(this.tokenBytes(id, { special: true }));
  }

  tokenText(id: number): string {
    this.checkId(id);
    return this.vocab.texts[id];
  }

  // llama_detokenize without clean-up of spaces: pieces concatenated, and with add_space_prefix
  // the first piece loses the one space the encoder put in front of the text.
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      let piece = this.tokenBytes(ids[i], options);
      if (i === 0 && this.addSpacePrefix && piece[0] === 0x20) piece = piece.subarray(1);
      parts.push(piece);
      total += piece.length;
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    return utf8Decoder().decode(bytes);
  }

  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const decoder = utf8Decoder();
    return {
      push: (id) => decoder.decode(this.tokenBytes(id, options), { stream: true }),
      flush: () => decoder.decode(),
    };
  }

  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }

  isSpecial(id: number): boolean {
    this.checkId(id);
    return (this.vocab.attrs[id] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) !== 0;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.nVocab) {
      throw new TokenizerError('TOKENIZER_BAD_TOKEN', `token id ${id} is outside the vocabulary [0, ${this.nVocab})`);
    }
  }
}

const EMPTY = new Uint8Array(0);

// A leading U+FEFF is text here (a token of its own in some vocabularies), not a byte order mark.
const utf8Decoder = (): TextDecoder => new TextDecoder('utf-8', { ignoreBOM: true });

class BpeTokenizer extends BaseTokenizer {
  readonly addBos: boolean;
  readonly addEos: boolean;
  protected readonly addSpacePrefix: boolean;
  private readonly spec: PreTokenizerSpec;
  private readonly preName: string;
  private readonly bpe: BpeVocab;
  private readonly wordCache = new Map<string, number[]>(); // byte-encoded word -> ids

  constructor(meta: TokenizerMetadata) {
    const spec = preTokenizerSpec(meta.pre);
    if (!spec) {
      throw new TokenizerError(
        'TOKENIZER_UNSUPPORTED',
        `tokenizer.ggml.pre '${meta.pre}' is not supported (supported: ${supportedPreTokenizers().join(', ')})`,
      );
    }
    super(buildVocab(meta, { bos: spec.noBos ? undefined : 11, eos: 11, unk: undefined }), meta);
    this.spec = spec;
    this.preName = meta.pre || 'default';
    this.addBos = meta.addBosToken ?? spec.addBos;
    this.addEos = meta.addEosToken ?? false;
    this.addSpacePrefix = meta.addSpacePrefix ?? false;
    const ranks = new Map<string, number>();
    meta.merges!.forEach((merge, rank) => {
      // llama.cpp splits at the first space after the first character
      const at = merge.indexOf(' ', 1);
      const key = at === -1 ? ' ' : merge;
      if (!ranks.has(key)) ranks.set(key, rank);
    });
    this.bpe = { textToId: this.vocab.textToId, ranks, ignoreMerges: spec.ignoreMerges };
  }

  describe(): string {
    return `byte-level BPE, pre-tokenizer '${this.preName}'`;
  }

  protected encodeFragments(fragments: Fragment[], out: number[]): void {
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        continue;
      }
      for (const word of preTokenize(this.spec, f)) {
        const encoded = byteEncode(word);
        let ids = this.wordCache.get(encoded);
        if (ids === undefined) {
          ids = [];
          bpeWord(this.bpe, encoded, ids);
          if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
          this.wordCache.set(encoded, ids);
        }
        for (const id of ids) out.push(id);
      }
    }
  }

  protected renderNormal(text: string): Uint8Array {
    return byteDecode(text);
  }
}

class SpmTokenizer extends BaseTokenizer {
  readonly addBos: boolean;
  readonly addEos: boolean;
  protected readonly addSpacePrefix: boolean;
  private readonly spm: SpmVocab;

  constructor(meta: TokenizerMetadata) {
    super(buildVocab(meta, { bos: 1, eos: 2, unk: 0 }), meta);
    this.addBos = meta.addBosToken ?? true;
    this.addEos = meta.addEosToken ?? false;
    this.addSpacePrefix = meta.addSpacePrefix ?? true;
    const byteToId: Array<number | undefined> = new Array(256);
    for (let b = 0; b < 256; b++) {
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      byteToId[b] = this.vocab.textToId.get(hex) ?? (b < 0x80 ? this.vocab.textToId.get(String.fromCharCode(b)) : undefined);
    }
    this.spm = {
      textToId: this.vocab.textToId,
      scores: meta.scores ?? new Float32Array(this.nVocab),
      byteToId,
      unknownId: this.vocab.unk,
    };
  }

  describe(): string {
    return 'SentencePiece';
  }

  protected encodeFragments(fragments: Fragment[], out: number[]): void {
    let prevSpecial = true; // the text start counts as following a special token
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        prevSpecial = true;
        continue;
      }
      const text = (this.addSpacePrefix && prevSpecial ? ' ' : '') + f;
      spmFragment(this.spm, text.replaceAll(' ', SPM_SPACE), out);
      prevSpecial = false;
    }
  }

  protected renderNormal(text: string): Uint8Array {
    return utf8Bytes(text.replaceAll(SPM_SPACE, ' '));
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// llama.cpp sees UTF-8; a lone surrogate reaches it as U+FFFD, so it does here too.
function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}
