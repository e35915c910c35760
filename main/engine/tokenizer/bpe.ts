// Byte-level BPE merging of one pre-tokenized word, as llama.cpp's llm_tokenizer_bpe_session:
// a linked list of symbols and a min-heap of adjacent pairs keyed by (merge rank, left position);
// a popped pair whose sides changed since it was pushed is stale and skipped.

import { MinHeap } from './heap.ts';

export interface BpeVocab {
  /** token text -> id (byte-level text, as stored in the GGUF) */
  textToId: Map<string, number>;
  /** "left right" -> merge rank */
  ranks: Map<string, number>;
  ignoreMerges: boolean;
}

interface Pair {
  rank: number;
  left: number;
  right: number;
  text: string;
}

const comparePairs = (a: Pair, b: Pair): boolean => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

/** Token ids of one byte-encoded word, appended to `out`. */
export function bpeWord(vocab: BpeVocab, word: string, out: number[]): void {
  if (vocab.ignoreMerges) {
    const whole = vocab.textToId.get(word);
    if (whole !== undefined) {
      out.push(whole);
      return;
    }
  }
  const symbols = Array.from(word); // [n_symbols] current text of each symbol ('' once merged away)
  const n = symbols.length;
  const prev = new Int32Array(n); // [n_symbols]
  const next = new Int32Array(n); // [n_symbols]
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  const heap = new MinHeap<Pair>(comparePairs);
  const addPair = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const rank = vocab.ranks.get(symbols[left] + ' ' + symbols[right]);
    if (rank === undefined) return;
    heap.push({ rank, left, right, text: symbols[left] + symbols[right] });
  };
  for (let i = 1; i < n; i++) addPair(i - 1, i);

  while (heap.size > 0) {
    const pair = heap.pop()!;
    const l = symbols[pair.left];
    const r = symbols[pair.right];
    if (l === '' || r === '' || l + r !== pair.text) continue;
    symbols[pair.left] = pair.text;
    symbols[pair.right] = '';
    next[pair.left] = next[pair.right];
    if (next[pair.right] >= 0) prev[next[pair.right]] = pair.left;
    addPair(prev[pair.left], pair.left);
    addPair(pair.left, next[pair.left]);
  }

  for (let i = 0; i !== -1 && n > 0; i = next[i]) {
    const id = vocab.textToId.get(symbols[i]);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    // llama.cpp falls back to single bytes of the symbol's UTF-8; only ASCII ones can be tokens
    for (const ch of symbols[i]) {
      const code = ch.codePointAt(0)!;
      if (code >= 0x80) continue;
      const byteId = vocab.textToId.get(ch);
      if (byteId !== undefined) out.push(byteId);
    }
  }
}
