// CPU engine speed beside llama.cpp's llama-bench on the same files and thread count:
// prefill tok/s of a 512-token prompt, decode tok/s at depth 0, 4K and 8K, and prefill tok/s of
// long prompts (pp4096, pp8192: a whole document's ingest, where attention over the growing
// context dominates; llama-bench -p N -n 0 runs the same prompt from an empty cache).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Model } from '../main/engine/engine.ts';
import { modelCacheDir } from '../main/models/default-model.ts';
import { makeRandomModel, type RandomModelSpec } from '../test/support/random-model.ts';
import { smollm2Path } from '../test/support/models.ts';
import { describeMachine, printTable, saveResults } from './report.ts';

const PREFILL_TOKENS = 512;
const DECODE_TOKENS = 32;

interface Row {
  model: string;
  test: string; // ppN | tg32@dN
  ours: number; // tok/s
  llamaCpp: number; // tok/s
  ratio: number;
}

const LLAMA_3_2_1B: Omit<RandomModelSpec, 'weightType'> = {
  arch: 'llama', nLayers: 16, nEmbd: 2048, nFf: 8192, nHeads: 32, nKvHeads: 8, headDim: 64,
  nCtxTrain: 131072, ropeFreqBase: 500000, ropeFreqs: true, tiedOutput: true, seed: 1,
};

async function generatedModel(type: 'Q8_0' | 'Q4_K'): Promise<string> {
  const dir = join(modelCacheDir(), 'bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `llama-3.2-1b-shape.${type}.gguf`);
  if (!existsSync(path)) await makeRandomModel(path, { ...LLAMA_3_2_1B, weightType: type });
  return path;
}

/** Models by name (a name not listed here is a path to a GGUF file). */
const PRESETS: Record<string, () => string | Promise<string>> = {
  'SmolLM2-135M-Instruct-Q4_1': smollm2Path,
  'Llama-3.2-1B-shape-Q8_0': () => generatedModel('Q8_0'),
  'Llama-3.2-1B-shape-Q4_K': () => generatedModel('Q4_K'),
};

/** Deterministic pseudo-text token ids (ids of ordinary tokens, away from the special ones). */
function promptTokens(n: number, nVocab: number): number[] {
  return Array.from({ length: n }, (_, i) => 1000 + ((i * 7919) % (nVocab - 2000)));
}

async function ours(path: string, threads: number, depths: number[], prefills: number[]): Promise<Map<string, number>> {
  const model = await Model.load(path);
  const out = new Map<string, number>();
  const maxDepth = Math.max(...depths, ...prefills);
  const session = model.createSession({ threads, contextSize: maxDepth + PREFILL_TOKENS + DECODE_TOKENS + 8 });
  const pp = await session.generate(promptTokens(PREFILL_TOKENS, model.info.nVocab), { maxTokens: 1, ignoreEog: true });
  out.set(`pp${PREFILL_TOKENS}`, pp.timings.prefillTokensPerSecond);
  for (const depth of depths) {
    session.reset();
    const tg = await session.generate(promptTokens(Math.max(1, depth), model.info.nVocab), {
      maxTokens: DECODE_TOKENS + 1, ignoreEog: true,
    });
    out.set(`tg${DECODE_TOKENS}@d${depth}`, tg.timings.decodeTokensPerSecond);
    // Reaching the depth was a prefill of that many tokens from an empty cache: the ppN row.
    if (prefills.includes(depth)) out.set(`pp${depth}`, tg.timings.prefillTokensPerSecond);
  }
  for (const n of prefills.filter((p) => !out.has(`pp${p}`))) {
    session.reset();
    const pp = await session.generate(promptTokens(n, model.info.nVocab), { maxTokens: 1, ignoreEog: true });
    out.set(`pp${n}`, pp.timings.prefillTokensPerSecond);
  }
  return out;
}

function llamaBench(bin: string, path: string, threads: number, depths: number[], prefills: number[]): Map<string, number> {
  const run = (args: string[]) => JSON.parse(execFileSync(bin, ['-m', path, '-t', String(threads), '-r', '2', '-o', 'json', ...args], {
    encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'],
  })) as Array<{ n_prompt: number; n_gen: number; n_depth?: number; avg_ts: number }>;
  const results = run(['-p', String(PREFILL_TOKENS), '-n', String(DECODE_TOKENS), '-d', depths.join(',')]);
  // llama-bench runs every prompt length at every depth: the long prompts get a run of their own.
  if (prefills.length > 0) results.push(...run(['-p', prefills.join(','), '-n', '0']));
  const out = new Map<string, number>();
  for (const r of results) {
    if (r.n_prompt > 0 && (r.n_depth ?? 0) === 0) out.set(`pp${r.n_prompt}`, r.avg_ts);
    if (r.n_gen > 0) out.set(`tg${r.n_gen}@d${r.n_depth ?? 0}`, r.avg_ts);
  }
  return out;
}

export async function runCpuBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      threads: { type: 'string' }, depths: { type: 'string' }, prefill: { type: 'string' },
      model: { type: 'string', multiple: true },
    },
  });
  const threads = Number(values.threads ?? 2);
  // --model NAME|PATH (repeatable): a preset name or a GGUF path; all presets by default.
  // Deep contexts cost minutes of prefill per model and engine on 2 cores: --depths 0,1024 for a quick look.
  const depths = (values.depths ?? '0,4096,8192').split(',').map(Number);
  // --prefill 4096,8192: long-prompt prefill rows (default: the non-zero depths; '' for none).
  const prefills = (values.prefill ?? depths.filter((d) => d > 0).join(',')).split(',').filter((x) => x !== '').map(Number);
  if (depths.some((n) => !Number.isInteger(n) || n < 0) || prefills.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`--depths takes integers >= 0, --prefill integers > 0: ${values.depths ?? ''} / ${values.prefill ?? ''}`);
  }
  const bin = execFileSync('bash', ['scripts/build-llama-bench.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const models: Array<[string, string]> = [];
  for (const name of values.model ?? Object.keys(PRESETS)) models.push([name, await (PRESETS[name] ?? (() => name))()]);
  const rows: Row[] = [];
  for (const [name, path] of models) {
    const a = await ours(path, threads, depths, prefills);
    const b = llamaBench(bin, path, threads, depths, prefills);
    for (const [test, t] of a) {
      const ref = b.get(test) ?? NaN;
      rows.push({ model: name, test, ours: t, llamaCpp: ref, ratio: t / ref });
    }
  }
  printTable(['model', 'test', 'squeeze tok/s', 'llama.cpp tok/s', 'ratio'], rows.map((r) => [r.model, r.test, r.ours, r.llamaCpp, r.ratio]));
  const path = saveResults('cpu', { machine: describeMachine(), threads, depths, prefills, rows });
  process.stdout.write(`\nwritten to ${path}\n`);
}
