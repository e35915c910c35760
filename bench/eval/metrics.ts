// The evaluation's measures, over one question: answer correctness, agreement of greedy answers,
// KL divergence of next-token distributions, and their aggregation over questions.

/** The answer is right when it contains the expected string, case-insensitively. */
export function answerCorrect(answer: string, expected: string): boolean {
  return answer.toLowerCase().includes(expected.toLowerCase());
}

/** Share of the reference's positions where the other answer has the same token (1 for equal answers). */
export function tokenAgreement(reference: number[], other: number[]): number {
  if (reference.length === 0) return other.length === 0 ? 1 : 0;
  let same = 0;
  for (let i = 0; i < reference.length; i++) if (other[i] === reference[i]) same++;
  return same / reference.length;
}

export function sameTokens(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** log softmax of one row of logits, in float64. */
function logSoftmax(logits: Float32Array, offset: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[offset + i] - logZ;
  return out;
}

/**
 * Mean over rows of KL(p || q) in nats, p and q the softmax of each row of two logit tables
 * [rows][nVocab] (the reference first). Identical tables give exactly 0.
 */
export function meanKl(p: Float32Array, q: Float32Array, nVocab: number): number {
  if (p.length !== q.length || p.length % nVocab !== 0) throw new RangeError(`logit tables of ${p.length} and ${q.length} for a vocabulary of ${nVocab}`);
  const rows = p.length / nVocab;
  if (rows === 0) return 0;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const lp = logSoftmax(p, r * nVocab, nVocab);
    const lq = logSoftmax(q, r * nVocab, nVocab);
    let kl = 0;
    for (let i = 0; i < nVocab; i++) if (lp[i] !== lq[i]) kl += Math.exp(lp[i]) * (lp[i] - lq[i]);
    total += Math.max(0, kl);
  }
  return total / rows;
}

export function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}
