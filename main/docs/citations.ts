// Page citations from attention: which pages the fixed-context tokens that an answer attended to
// *because of the question* come from.
//
// Raw attention mass is a poor guide on its own. Measured on SmolLM2-135M (test/citations/), most of
// the mass a document receives goes to tokens every query attends to whatever it asks: attention
// sinks inside the text (" the", "\n"), the first page and the last tokens before the question.
// The top-64 tokens by raw mass named the fact's page for 6 of 27 right answers. What separates a
// question's evidence from that background is the *excess* over a neutral query's attention: each
// distribution is normalised over the document tokens, the neutral one is subtracted, and pages are
// ranked by the positive excess of their strongest tokens: 27 of 27 on the same answers, 14 of 15
// at sparsity 0.7 (bench/results/citations-2026-11-26.md).

/** Which page each fixed-context token came from (the map a document pack stores). */
export interface PageSourceMap {
  spans: { source: string; page: number; lines?: [number, number] }[];
  /** [first fixed token, span index or -1 for template and marker text], ascending by token */
  runs: [number, number][];
}

export interface PageCitation {
  source: string;
  page: number;
  lines?: [number, number];
  /** share of the cited tokens' score on this page; the shares sum to 1 */
  share: number;
}

/** Tokens by score that a citation is drawn from. */
export const CITATION_TOKENS = 64;

/** The question whose attention is the background subtracted from an answer's. */
export const NEUTRAL_QUESTION = 'What are these documents about?';

/** Span index of every fixed-context token (-1 outside the documents' pages). */
export function spanIndexOfTokens(map: PageSourceMap, nTokens: number): Int32Array {
  const out = new Int32Array(nTokens).fill(-1); // [n_fixed]
  map.runs.forEach(([first, span], r) => {
    const end = Math.min(nTokens, r + 1 < map.runs.length ? map.runs[r + 1][0] : nTokens);
    for (let t = Math.max(0, first); t < end; t++) out[t] = span;
  });
  return out;
}

/** The mass on document tokens as a distribution (zero outside the pages). */
function documentShare(mass: ArrayLike<number>, spanOf: Int32Array): Float64Array {
  const share = new Float64Array(spanOf.length); // [n_fixed]
  let total = 0;
  for (let t = 0; t < spanOf.length; t++) if (spanOf[t] >= 0) total += mass[t];
  if (total > 0) for (let t = 0; t < spanOf.length; t++) if (spanOf[t] >= 0) share[t] = mass[t] / total;
  return share;
}

/**
 * Pages ranked by the attention an answer gave their tokens beyond `baselineMass` (the mass a neutral
 * question gave each token, same length), strongest first. Without a baseline, by raw mass.
 */
export function citePages(map: PageSourceMap, tokenMass: ArrayLike<number>, baselineMass?: ArrayLike<number>, topTokens = CITATION_TOKENS): PageCitation[] {
  if (baselineMass && baselineMass.length !== tokenMass.length) {
    throw new RangeError(`baseline covers ${baselineMass.length} tokens, the answer ${tokenMass.length}`);
  }
  const spanOf = spanIndexOfTokens(map, tokenMass.length);
  const score = documentShare(tokenMass, spanOf);
  if (baselineMass) {
    const background = documentShare(baselineMass, spanOf);
    for (let t = 0; t < score.length; t++) score[t] -= background[t];
  }
  const ranked: number[] = [];
  for (let t = 0; t < score.length; t++) if (spanOf[t] >= 0 && score[t] > 0) ranked.push(t);
  ranked.sort((a, b) => score[b] - score[a]);
  const bySpan = new Map<number, number>();
  let total = 0;
  for (const t of ranked.slice(0, topTokens)) {
    bySpan.set(spanOf[t], (bySpan.get(spanOf[t]) ?? 0) + score[t]);
    total += score[t];
  }
  return [...bySpan.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([span, value]) => ({ ...map.spans[span], share: value / total }));
}
