// What the user sees before a document pack is built (DESIGN.md §5): the token count against the
// model's context, what was skipped and why, and how long the build will take. Documents that do
// not fit are an error that lists them with their token counts, never a silent cut.
//
// The ETA comes from a measured rate: the last pack build for the same model (recorded in the pack
// directory as fixed-context tokens per second of the whole build), else a short prefill the caller
// times now. Prefill per token slows as the context grows (attention), so a rate measured on a
// smaller context is optimistic; the plan says which rate it used.

import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import path from 'node:path';

import { DocumentError, type SkipNote } from './document.ts';
import { buildFixedContext } from './fixed-context.ts';
import type { FolderResult } from './folder.ts';

export interface BuildRate {
  /** fixed-context tokens per second */
  tokensPerSecond: number;
  /** 'last-build': a whole pack build (prefill, clustering, calibration, write) of this model;
   *  'calibration': a short prefill timed just now (the prefill only) */
  source: 'last-build' | 'calibration';
  /** tokens the rate was measured on */
  tokens: number;
}

export interface PlannedDocument {
  source: string;
  pages: number;
  tokens: number;
}

export interface DocumentPlan {
  documents: PlannedDocument[];
  skipped: SkipNote[];
  /** the fixed context: documents plus the system prompt and template around them */
  tokens: number;
  /** the model's context length */
  contextSize: number;
  /** tokens kept free for the conversation and the answers */
  reserveTokens: number;
  fits: boolean;
  /** seconds to build the pack, when a rate is known */
  etaSeconds?: number;
  rate?: BuildRate;
}

export interface PlanOptions {
  /** the model's tokenizer (text → number of tokens) */
  countTokens: (text: string) => number;
  contextSize: number;
  /** tokens of the system prompt and chat template around the documents */
  overheadTokens?: number;
  /** default 1024 */
  reserveTokens?: number;
  rate?: BuildRate;
}

export const DEFAULT_PLAN_RESERVE_TOKENS = 1024;
/** Documents named one by one in the too-large error (a folder of 10,000 files gets a count). */
const LISTED_DOCUMENTS = 20;

export function planDocuments(opened: Pick<FolderResult, 'documents' | 'skipped'>, options: PlanOptions): DocumentPlan {
  const context = buildFixedContext(opened.documents, { countTokens: options.countTokens });
  const reserveTokens = options.reserveTokens ?? DEFAULT_PLAN_RESERVE_TOKENS;
  const tokens = (context.tokens ?? 0) + (options.overheadTokens ?? 0);
  const plan: DocumentPlan = {
    documents: context.documents ?? [],
    skipped: opened.skipped,
    tokens,
    contextSize: options.contextSize,
    reserveTokens,
    fits: tokens + reserveTokens <= options.contextSize,
  };
  if (options.rate && options.rate.tokensPerSecond > 0) {
    plan.rate = options.rate;
    plan.etaSeconds = tokens / options.rate.tokensPerSecond;
  }
  return plan;
}

/** Throws DocumentError DOCUMENTS_TOO_LARGE, listing the documents largest first, when the plan does not fit. */
export function assertPlanFits(plan: DocumentPlan): void {
  if (plan.fits) return;
  const room = plan.contextSize - plan.reserveTokens - (plan.tokens - plan.documents.reduce((s, d) => s + d.tokens, 0));
  const largest = [...plan.documents].sort((a, b) => b.tokens - a.tokens);
  const rest = largest.slice(LISTED_DOCUMENTS);
  const list = largest.slice(0, LISTED_DOCUMENTS).map((d) => `  ${d.source}: ${d.tokens} tokens`)
    .concat(rest.length ? [`  … and ${rest.length} more: ${rest.reduce((s, d) => s + d.tokens, 0)} tokens`] : [])
    .join('\n');
  throw new DocumentError(
    'DOCUMENTS_TOO_LARGE',
    `The documents take ${plan.tokens} tokens; the model's context holds ${plan.contextSize} ` +
      `(${plan.reserveTokens} kept for the conversation), so about ${Math.max(0, room)} tokens of documents fit:\n${list}\n` +
      `Choose what to keep (for example --only ${largest.slice(-2).map((d) => d.source).join(',')}) or open a smaller folder.`,
  );
}

/** Keeps the named documents (sources as listed by the plan); an unknown name is a DocumentError FILE_NOT_FOUND. */
export function selectDocuments<T extends Pick<FolderResult, 'documents'>>(opened: T, only: string[]): T {
  const known = new Set(opened.documents.map((d) => d.source));
  const unknown = only.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new DocumentError('FILE_NOT_FOUND', `Not among the documents: ${unknown.join(', ')}. They are: ${[...known].join(', ')}.`);
  }
  const keep = new Set(only);
  return { ...opened, documents: opened.documents.filter((d) => keep.has(d.source)) };
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** The plan as lines for a terminal. */
export function describePlan(plan: DocumentPlan): string[] {
  const share = Math.round((100 * plan.tokens) / plan.contextSize);
  const eta = plan.etaSeconds === undefined || !plan.rate ? 'unknown (no measured rate)'
    : `about ${formatDuration(plan.etaSeconds)} at ${Math.round(plan.rate.tokensPerSecond)} tokens/s ` +
      (plan.rate.source === 'last-build' ? '(the last pack build of this model)' : `(a ${plan.rate.tokens}-token prefill just now; clustering adds a little)`);
  return [
    `${plan.tokens} tokens of ${plan.contextSize} in the model's context (${share}%), ${plan.reserveTokens} kept for the conversation: ` +
      (plan.fits ? 'fits' : 'does NOT fit'),
    ...plan.documents.map((d) => `  ${d.source}: ${d.pages} page(s), ${d.tokens} tokens`),
    ...plan.skipped.map((s) => `  skipped ${s.source}${s.page ? ` page ${s.page}` : ''}: ${s.reason}`),
    `pack build: ${eta}`,
  ];
}

const RATE_FILE = 'build-rates.json';

type RateFile = Record<string, { tokensPerSecond: number; tokens: number; at: string }>;

async function readRates(packDir: string): Promise<RateFile> {
  try {
    const parsed: unknown = JSON.parse(await fsp.readFile(path.join(packDir, RATE_FILE), 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as RateFile) : {};
  } catch {
    return {}; // none yet, or damaged: the caller measures instead
  }
}

/** The whole-build rate recorded for `modelKey` (the model's fingerprint) in `packDir`. */
export async function readBuildRate(packDir: string, modelKey: string): Promise<BuildRate | undefined> {
  const entry = (await readRates(packDir))[modelKey];
  if (!entry || !(entry.tokensPerSecond > 0) || !(entry.tokens > 0)) return undefined;
  return { tokensPerSecond: entry.tokensPerSecond, tokens: entry.tokens, source: 'last-build' };
}

/** Records a finished build (atomically: temp file and rename). */
export async function recordBuildRate(packDir: string, modelKey: string, tokens: number, buildMs: number): Promise<void> {
  if (!(tokens > 0 && buildMs > 0)) return;
  const rates = await readRates(packDir);
  rates[modelKey] = { tokensPerSecond: (tokens * 1000) / buildMs, tokens, at: new Date().toISOString() };
  await fsp.mkdir(packDir, { recursive: true });
  const file = path.join(packDir, RATE_FILE);
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await fsp.writeFile(temp, JSON.stringify(rates, null, 2));
  await fsp.rename(temp, file);
}
