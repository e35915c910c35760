// Long documents for the accuracy evaluation (issue 3), generated deterministically from a few KB
// the project ships: the paragraphs of test/fixtures/eval/prose.txt (original prose written for
// this project) and of the Apache License 2.0 text in test/fixtures/docs, in a seeded shuffled order,
// repeated until the fixed context reaches its target length, with short distinctive facts planted
// as paragraphs of their own at chosen depths.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures');

export interface Fact {
  fact: string;
  question: string;
  /** the answer is right when it contains this (case-insensitive) */
  answer: string;
}

export interface PlantedFact extends Fact {
  /** planned depth: share of the document's tokens before the fact */
  depth: number;
  /** where it landed: document tokens before the fact / document tokens */
  actualDepth: number;
}

export interface EvalDocument {
  name: string;
  text: string;
  /** tokens of the document text (the fixed context adds the system prompt and page markers) */
  tokens: number;
  facts: PlantedFact[];
}

export function loadFacts(): Fact[] {
  return JSON.parse(readFileSync(join(FIXTURES, 'eval', 'facts.json'), 'utf8')) as Fact[];
}

/** The shipped paragraphs the documents are made of: the prose, then the licence's. */
export function sourceParagraphs(): string[] {
  const paragraphs = (path: string) =>
    readFileSync(path, 'utf8')
      .split(/\n\s*\n/)
      .map((p) => p.replace(/\s+/g, ' ').trim())
      .filter((p) => p.length > 0);
  return [...paragraphs(join(FIXTURES, 'eval', 'prose.txt')), ...paragraphs(join(FIXTURES, 'docs', 'apache-license-2.0.txt'))];
}

/** mulberry32: a small seeded generator, so every run builds the same documents. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface DocumentSpec {
  name: string;
  /** document tokens to reach (paragraphs are whole, so it ends at or just under this) */
  tokens: number;
  /** one fact per depth, in this order */
  depths: number[];
  facts: Fact[];
  seed: number;
}

/** countTokens: the model's tokenizer on a piece of text. */
export function buildDocument(spec: DocumentSpec, countTokens: (text: string) => number): EvalDocument {
  if (spec.facts.length < spec.depths.length) throw new RangeError(`${spec.name}: ${spec.depths.length} depths but ${spec.facts.length} facts`);
  const random = seeded(spec.seed);
  const factTokens = spec.facts.slice(0, spec.depths.length).reduce((n, f) => n + countTokens(`\n\n${f.fact}`), 0);
  const body: { text: string; tokens: number }[] = [];
  let total = factTokens;
  for (let round = 0; ; round++) {
    const next = shuffled(sourceParagraphs(), random).map((text) => ({ text, tokens: countTokens(`\n\n${text}`) }));
    const before = body.length;
    for (const p of next) {
      if (total + p.tokens > spec.tokens) continue;
      body.push(p);
      total += p.tokens;
    }
    if (body.length === before || round > 100) break;
  }
  // Each fact goes before the first paragraph at or past its depth (in tokens of the body).
  const bodyTokens = total - factTokens;
  const at = spec.depths.map((d) => {
    let seen = 0;
    for (let i = 0; i < body.length; i++) {
      if (seen >= d * bodyTokens) return i;
      seen += body[i].tokens;
    }
    return body.length;
  });
  const parts: { text: string; tokens: number; fact?: number }[] = [];
  for (let i = 0; i <= body.length; i++) {
    at.forEach((index, k) => index === i && parts.push({ text: spec.facts[k].fact, tokens: countTokens(`\n\n${spec.facts[k].fact}`), fact: k }));
    if (i < body.length) parts.push(body[i]);
  }
  const facts: PlantedFact[] = [];
  let seen = 0;
  for (const p of parts) {
    if (p.fact !== undefined) facts[p.fact] = { ...spec.facts[p.fact], depth: spec.depths[p.fact], actualDepth: seen / total };
    seen += p.tokens;
  }
  const text = parts.map((p) => p.text).join('\n\n');
  return { name: spec.name, text, tokens: countTokens(text), facts };
}

/** Depths of the planted facts: 10%, 30%, 50%, 70%, 90% of the document. */
export const DEPTHS = [0.1, 0.3, 0.5, 0.7, 0.9];

/**
 * The evaluation's documents: 2K, 4K, 6K and 8K tokens of document text (8K is kept a little under
 * the model's 8192-token context, which also holds the system prompt, question and answer), five
 * facts each; quick: one 2K document with three facts.
 */
export function documentSpecs(quick: boolean): DocumentSpec[] {
  const facts = loadFacts();
  if (quick) return [{ name: 'eval-2k', tokens: 2048, depths: [0.1, 0.5, 0.9], facts: facts.slice(0, 3), seed: 2 }];
  const sizes: [string, number][] = [['eval-2k', 2048], ['eval-4k', 4096], ['eval-6k', 6144], ['eval-8k', 7800]];
  return sizes.map(([name, tokens], d) => ({
    name,
    tokens,
    depths: DEPTHS,
    facts: DEPTHS.map((_, k) => facts[(d * DEPTHS.length + k) % facts.length]),
    seed: d + 1,
  }));
}
