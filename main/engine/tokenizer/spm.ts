// SentencePiece ("llama") tokenization of one text fragment, as llama.cpp's llm_tokenizer_spm:
// start from single characters and keep merging the adjacent pair whose concatenation is the
// vocabulary token with the highest score (leftmost on ties); characters that end up in no
// token are emitted as byte tokens <0xXX>.

import { MinHeap } from './heap.ts';
import { utf8Bytes } from './unicode.ts';

export interface SpmVocab {
  textToId: Map<string, number>;
  scores: ArrayLike<number>; // [n_vocab]
  /** byte value -> token id (<0xXX>, else the one-character token), undefined when absent */
  byteToId: Array<number | undefined>; // [256]
  unknownId: number | undefined;
}

interface Bigram {
  score: number;
  left: number;
  right: number;
  length: number; // UTF-16 length of the merged text when pushed
}

const compareBigrams = (a: Bigram, b: Bigram): boolean => a.score > b.score || (a.score === b.score && a.left < b.left);

/** Token ids of `text` (spaces already escaped to U+2581), appended to `out`. */
export function spmFragment(vocab: SpmVocab, text: string, out: number[]): void {
  // each symbol is text[start[i], start[i] + len[i]); len 0 once merged into its left neighbour
  const start: number[] = [];
  const len: number[] = [];
  for (let i = 0; i < text.length; ) {
    const size = text.codePointAt(i)! > 0xffff ? 2 : 1;
    start.push(i);
    len.push(size);
    i += size;
  }
  const n = start.length;
  const prev = new Int32Array(n); // [n_symbols]
  const next = new Int32Array(n); // [n_symbols]
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  const heap = new MinHeap<Bigram>(compareBigrams);
  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const length = len[left] + len[right];
    const id = vocab.textToId.get(text.substr(start[left], length));
    if (id === undefined) return;
    heap.push({ score: vocab.scores[id], left, right, length });
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);

  while (heap.size > 0) {
    const b = heap.pop()!;
    if (len[b.left] === 0 || len[b.right] === 0 || len[b.left] + len[b.right] !== b.length) continue;
    len[b.left] += len[b.right];
    len[b.right] = 0;
    next[b.left] = next[b.right];
    if (next[b.right] >= 0) prev[next[b.right]] = b.left;
    tryAdd(prev[b.left], b.left);
    tryAdd(b.left, next[b.left]);
  }

  for (let i = 0; i !== -1 && n > 0; i = next[i]) {
    const piece = text.substr(start[i], len[i]);
    const id = vocab.textToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const byte of utf8Bytes(piece)) {
      const byteId = vocab.byteToId[byte] ?? vocab.unknownId;
      if (byteId !== undefined) out.push(byteId);
    }
  }
}
