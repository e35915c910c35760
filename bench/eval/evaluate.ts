// Issue 3's accuracy evaluation: per document, the pack is built once (or loaded); per question the
// dense greedy answer is the reference, and every squeeze mode is measured against it: task accuracy,
// greedy agreement, KL of next-token distributions along the dense answer (teacher-forced), and the
// attention-mass recall of the selected keys per layer.
import { buildFixedContext, paginateText } from '../../main/docs/index.ts';
import { DocChat, type AskMode } from '../../main/engine/doc-chat.ts';
import type { Model } from '../../main/engine/engine.ts';
import { buildDocument, documentSpecs, type EvalDocument } from './documents.ts';
import { answerCorrect, mean, meanKl, sameTokens, tokenAgreement } from './metrics.ts';

export const EVAL_SYSTEM_PROMPT = 'You are a helpful assistant. Answer the question with a short answer taken from the document below.';

export interface EvalMode {
  id: string;
  mode: AskMode;
}

/** dense is measured against itself (its KL must be 0); all is the squeezed path with every cluster. */
export const EVAL_MODES: EvalMode[] = [
  { id: 'dense', mode: { kind: 'dense' } },
  { id: 'all', mode: { kind: 'all' } },
  ...[0.5, 0.7, 0.8, 0.9, 0.95].map((s) => ({ id: `s${Math.round(s * 100)}`, mode: { kind: 'sparsity', sparsity: s } as AskMode })),
  { id: 's90-layer', mode: { kind: 'sparsity', sparsity: 0.9, perLayer: true } },
];

/**
 * Diagnosis of the accuracy lost (--modes): at the key count each lookup selects, the oracle clusters
 * (o<S>c: most true attention mass) and the oracle single keys (o<S>k); and the question's prefill
 * selecting per token as decode does (t<S>) instead of from its averaged scores.
 */
export const DIAGNOSTIC_MODES: EvalMode[] = [0.5, 0.7, 0.9].flatMap((s) => {
  const pct = Math.round(s * 100);
  return [
    { id: `o${pct}c`, mode: { kind: 'sparsity', sparsity: s, oracle: 'clusters' } as AskMode },
    { id: `o${pct}k`, mode: { kind: 'sparsity', sparsity: s, oracle: 'keys' } as AskMode },
    { id: `t${pct}`, mode: { kind: 'sparsity', sparsity: s, perToken: true } as AskMode },
  ];
});

/** The modes named by ids (dense first, always: it is every other mode's reference). */
export function selectModes(ids: string[]): EvalMode[] {
  const known = [...EVAL_MODES, ...DIAGNOSTIC_MODES];
  const unknown = ids.filter((id) => !known.some((m) => m.id === id));
  if (unknown.length > 0) throw new RangeError(`unknown evaluation modes ${unknown.join(', ')}; known: ${known.map((m) => m.id).join(', ')}`);
  return known.filter((m) => m.id === 'dense' || ids.includes(m.id));
}

export interface ModeOutcome {
  answer: string;
  tokens: number[];
  correct: boolean;
  /** greedy answer token for token equal to dense's */
  exact: boolean;
  tokenAgreement: number;
  /** mean KL(dense || mode) in nats over the dense answer's tokens */
  kl: number;
  /** achieved over the teacher-forced evaluation's lookups */
  sparsity: number;
  /** achieved by the question's prefill lookup alone (one lookup per layer and KV head from its averaged scores) */
  prefillSparsity: number;
  /** [nLayers] mean recall of the dense attention mass (empty for dense) */
  recallPerLayer: number[];
}

export interface QuestionOutcome {
  document: string;
  documentTokens: number;
  depth: number;
  actualDepth: number;
  question: string;
  expected: string;
  modes: Record<string, ModeOutcome>;
}

export interface DocumentOutcome {
  name: string;
  documentTokens: number;
  fixedTokens: number;
  pack: { built: boolean; bytes: number; buildMs?: number; loadMs?: number };
}

export interface EvalOptions {
  quick?: boolean;
  /** only these documents (by name, e.g. eval-8k); default all */
  documents?: string[];
  /** ask only about the facts planted at these depths (all five are planted regardless); default all */
  depths?: number[];
  packDir?: string;
  threads?: number;
  maxTokens?: number;
  /** progress lines (one per document and question) */
  log?: (line: string) => void;
  /** the modes to measure; default EVAL_MODES */
  modes?: EvalMode[];
}

export interface EvalRun {
  documents: DocumentOutcome[];
  questions: QuestionOutcome[];
  modes: string[];
  maxTokens: number;
}

export async function runEval(model: Model, options: EvalOptions = {}): Promise<EvalRun> {
  const maxTokens = options.maxTokens ?? 24;
  const log = options.log ?? (() => {});
  const countTokens = (text: string) => model.tokenizer.encode(text, { addSpecial: false, parseSpecial: false }).length;
  const modes = options.modes ?? EVAL_MODES;
  const run: EvalRun = { documents: [], questions: [], modes: modes.map((m) => m.id), maxTokens };
  const specs = documentSpecs(options.quick ?? false).filter((s) => !options.documents || options.documents.includes(s.name));
  if (specs.length === 0) throw new RangeError(`no evaluation document is named ${options.documents?.join(', ')}`);
  for (const spec of specs) {
    const doc = buildDocument(spec, countTokens);
    const t0 = performance.now();
    const chat = await DocChat.open(model, contextOf(doc), { packDir: options.packDir, threads: options.threads, systemPrompt: EVAL_SYSTEM_PROMPT });
    const build = chat.pack.build;
    run.documents.push({
      name: doc.name,
      documentTokens: doc.tokens,
      fixedTokens: chat.fixedTokens.length,
      pack: { built: chat.pack.built, bytes: chat.pack.bytes, ...(build && { buildMs: build.prefillMs + build.clusterMs + build.calibrateMs + build.writeMs }), ...(chat.pack.loadMs !== undefined && { loadMs: chat.pack.loadMs }) },
    });
    log(`${doc.name}: ${chat.fixedTokens.length} fixed tokens, pack ${chat.pack.built ? 'built' : 'loaded'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const fact of doc.facts.filter((f) => !options.depths || options.depths.includes(f.depth))) {
      run.questions.push(await evalQuestion(chat, doc, fact, maxTokens, modes));
      const q = run.questions[run.questions.length - 1];
      const right = run.modes.filter((id) => id !== 'dense' && q.modes[id].correct);
      log(`  ${(fact.depth * 100).toFixed(0)}% ${fact.question} -> dense ${JSON.stringify(q.modes.dense.answer)} (${q.modes.dense.correct ? 'right' : 'wrong'}); right: ${right.join(' ') || 'none'}`);
    }
  }
  return run;
}

function contextOf(doc: EvalDocument) {
  return buildFixedContext([{ source: `${doc.name}.txt`, kind: 'text', pages: paginateText(doc.text), skipped: [] }]);
}

async function evalQuestion(chat: DocChat, doc: EvalDocument, fact: EvalDocument['facts'][number], maxTokens: number, evalModes: EvalMode[]): Promise<QuestionOutcome> {
  const dense = await chat.ask(fact.question, { mode: { kind: 'dense' }, maxTokens, temperature: 0, remember: false });
  const reference = await chat.evalLogits(fact.question, dense.tokens, { kind: 'dense' });
  const modes: Record<string, ModeOutcome> = {};
  for (const { id, mode } of evalModes) {
    const answer = mode.kind === 'dense' ? dense : await chat.ask(fact.question, { mode, maxTokens, temperature: 0, remember: false });
    const scored = await chat.evalLogits(fact.question, dense.tokens, mode, { recall: mode.kind !== 'dense' });
    // One continuation token: only the question's batch is evaluated, so its stats are the prefill lookup's.
    const prefill = await chat.evalLogits(fact.question, dense.tokens.slice(0, 1), mode);
    modes[id] = {
      answer: answer.answer,
      tokens: answer.tokens,
      correct: answerCorrect(answer.answer, fact.answer),
      exact: sameTokens(answer.tokens, dense.tokens),
      tokenAgreement: tokenAgreement(dense.tokens, answer.tokens),
      kl: meanKl(reference.logits, scored.logits, reference.nVocab),
      sparsity: scored.sparsity,
      prefillSparsity: prefill.sparsity,
      recallPerLayer: scored.recallPerLayer,
    };
  }
  return { document: doc.name, documentTokens: doc.tokens, depth: fact.depth, actualDepth: fact.actualDepth, question: fact.question, expected: fact.answer, modes };
}

/** One run from several partial ones (documents evaluated by separate processes). */
export function mergeRuns(runs: EvalRun[]): EvalRun {
  return {
    documents: runs.flatMap((r) => r.documents),
    questions: runs.flatMap((r) => r.questions),
    modes: runs[0].modes,
    maxTokens: runs[0].maxTokens,
  };
}

export interface ModeSummary {
  id: string;
  /** share of all questions answered right */
  accuracy: number;
  /** share right among the questions dense answers right */
  accuracyOnDenseRight: number;
  exactAgreement: number;
  tokenAgreement: number;
  meanKl: number;
  sparsity: number;
  /** of the question's prefill lookup alone (NaN for runs from before it was measured) */
  prefillSparsity: number;
  /** mean over layers of the per-layer recall (NaN for dense) */
  recall: number;
  recallPerLayer: number[];
}

export function summarize(run: EvalRun): ModeSummary[] {
  const denseRight = run.questions.filter((q) => q.modes.dense.correct);
  return run.modes.map((id) => {
    const outcomes = run.questions.map((q) => q.modes[id]);
    const nLayers = Math.max(0, ...outcomes.map((o) => o.recallPerLayer.length));
    const recallPerLayer = Array.from({ length: nLayers }, (_, l) => mean(outcomes.map((o) => o.recallPerLayer[l]).filter((r) => r !== undefined && r >= 0)));
    return {
      id,
      accuracy: mean(outcomes.map((o) => (o.correct ? 1 : 0))),
      accuracyOnDenseRight: mean(denseRight.map((q) => (q.modes[id].correct ? 1 : 0))),
      exactAgreement: mean(outcomes.map((o) => (o.exact ? 1 : 0))),
      tokenAgreement: mean(outcomes.map((o) => o.tokenAgreement)),
      meanKl: mean(outcomes.map((o) => o.kl)),
      sparsity: mean(outcomes.map((o) => o.sparsity)),
      prefillSparsity: mean(outcomes.map((o) => o.prefillSparsity)),
      recall: mean(recallPerLayer),
      recallPerLayer,
    };
  });
}

export interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

/** The paper's bar on LongBench, as the issue states it, on this evaluation. */
export function goals(summary: ModeSummary[], nQuestions: number): Goal[] {
  const by = (id: string) => summary.find((s) => s.id === id);
  const dense = by('dense'), s70 = by('s70'), s90 = by('s90');
  if (!dense) return [];
  const loss = (s: ModeSummary) => (dense.accuracy - s.accuracy) * 100;
  const grain = `one question = ${(100 / nQuestions).toFixed(1)} points`;
  return [
    ...(s70 ? [{ goal: 'no accuracy loss at 70% sparsity', measured: `${loss(s70).toFixed(1)} points (${grain})`, met: loss(s70) <= 0 }] : []),
    ...(s90
      ? [
          { goal: 'at most 0.5 points lost at 90% sparsity', measured: `${loss(s90).toFixed(1)} points (${grain})`, met: loss(s90) <= 0.5 },
          { goal: 'attention-mass recall >= 0.95 at 90% sparsity', measured: s90.recall.toFixed(3), met: s90.recall >= 0.95 },
        ]
      : []),
  ];
}
