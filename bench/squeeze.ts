// Squeezed Attention on the CPU beside our dense attention and llama.cpp (issue 3's benchmark):
// a fixed context of N tokens becomes a document pack through DocChat (prefill, clustering,
// calibration, pack size and load time), then a short question is answered with exactly 32 generated
// tokens in each mode (end-of-generation ignored, no token mass collected unless the row says
// "+mass"), timed per phase from the engine's stats; llama-bench decodes 32 tokens at depth N on the
// same file and thread count in the same run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { buildFixedContext, type FixedContext } from '../main/docs/fixed-context.ts';
import { DocChat, DEFAULT_SYSTEM_PROMPT, type AskMode, type AskResult, type PackInfo } from '../main/engine/doc-chat.ts';
import { Model } from '../main/engine/engine.ts';
import type { NativeIngestResult } from '../main/engine/native.ts';
import { smollm2Path } from '../test/support/models.ts';
import { describeMachine, printTable, type Machine } from './report.ts';

const GENERATED_TOKENS = 32;
const QUESTION = 'What does the license say about patents and contributions? Explain every condition in detail.';
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_TEXT = join(REPO, 'test', 'fixtures', 'docs', 'apache-license-2.0.txt');
/** Characters of source text per page of the generated document. */
const PAGE_CHARS = 4000;

interface Preset {
  path: () => string;
  /** fixed-context sizes run when --depths is not given */
  depths: number[];
}

/** Where tools/make-model.ts writes the generated Llama-3.2-1B-shaped model (as bench/cpu.ts does). */
function generatedLlama1b(): string {
  const path = join(homedir(), '.cache', 'squeeze', 'models', 'bench', 'llama-3.2-1b-shape.Q8_0.gguf');
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    execFileSync(process.execPath, ['--import', 'tsx', 'tools/make-model.ts', '--preset', 'llama-3.2-1b', '--type', 'Q8_0', '--out', path], {
      cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return path;
}

const PRESETS: Record<string, Preset> = {
  smollm2: { path: smollm2Path, depths: [8192] },
  'llama-3.2-1b-shape-q8_0': { path: generatedLlama1b, depths: [16384, 32768] },
};

type ModeName = 'dense' | 'all' | `${number}%`;

interface ModeRow {
  mode: ModeName;
  /** per-token attention mass of the document collected (what citations cost) */
  tokenMass: boolean;
  /** single-token forward passes timed: the question's last token, then one per generated token */
  passes: number;
  generated: number;
  stopReason: string;
  /** forward passes per second, end to end (sampling included), mean over repeats */
  tokensPerSecond: number;
  /** per forward pass, means over repeats */
  /** attention = fixed (sparse, over the document) + dynamic (the conversation's tokens) + merge */
  msPerToken: { total: number; lookup: number; attention: number; fixed: number; dynamic: number; merge: number; rest: number };
  /** CPU time of the process (all threads) per pass: what the step costs whatever the machine's load */
  cpuMsPerToken: number;
  sparsity: number;
  keysAttendedShare: number;
  bytesRead: number;
  bytesDense: number;
}

/** CPU milliseconds of the process (all threads) since `since`. */
function cpuMsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

interface BuildRecord extends NativeIngestResult {
  date: string;
  /** CPU time per phase (all threads), from the progress events at the phases' ends */
  cpuMs?: { prefill: number; cluster: number; calibrate: number };
}

interface DepthResult {
  depth: number;
  nFixed: number;
  pack: {
    path: string;
    bytes: number;
    /** timings of the run that built the pack (this run, or the cached pack's build) */
    build: BuildRecord & { thisRun: boolean };
    loadMs: number;
  };
  modes: ModeRow[];
  llamaCpp: { tokensPerSecond: number; flashAttn: unknown; typeK: unknown; repetitions: number };
  /** 1-minute load average when our decode timing and llama-bench's started (the machine is shared) */
  load: { ours: number; llamaCpp: number };
  ratios: Record<string, number>;
}

/** Pages of the licence text, repeated, whose fixed context comes to about `target` tokens. */
function documentOfTokens(model: Model, target: number): FixedContext {
  const source = readFileSync(SOURCE_TEXT, 'utf8');
  const contextOf = (chars: number): FixedContext => {
    const text = source.repeat(Math.ceil(chars / source.length)).slice(0, chars);
    const pages = [];
    for (let at = 0; at < text.length; at += PAGE_CHARS) pages.push({ page: pages.length + 1, text: text.slice(at, at + PAGE_CHARS) });
    return buildFixedContext([{ source: 'apache-license-2.0.txt', kind: 'text', pages, skipped: [] }]);
  };
  // The fixed context is what DocChat prefills: the system message rendered by the chat template.
  const tokensOf = (c: FixedContext): number =>
    model.tokenizer.encode(model.formatChat([{ role: 'system', content: `${DEFAULT_SYSTEM_PROMPT}\n\n${c.text}` }], false), {
      addSpecial: true, parseSpecial: true,
    }).length;
  let chars = target * 4;
  for (let i = 0; i < 8; i++) {
    const n = tokensOf(contextOf(chars));
    if (n <= target && n > target - 16) break;
    chars = Math.floor((chars * (target - 8)) / n);
  }
  return contextOf(chars);
}

function buildRecordPath(pack: PackInfo): string {
  return `${pack.path}.build.json`;
}

/** Opens the pack (building and recording its timings when none is cached), then times a fresh load. */
async function openPack(
  model: Model, context: FixedContext, depth: number, threads: number, packDir: string, rebuild: boolean,
): Promise<[DocChat, DepthResult['pack']]> {
  const options = { packDir, threads, contextSize: depth + 256 };
  let lastReport = 0;
  const cpuStart = process.cpuUsage();
  const cpuAt: Partial<Record<'prefill' | 'cluster' | 'calibrate', number>> = {};
  const first = await DocChat.open(model, context, {
    ...options,
    rebuild,
    onProgress: (phase, done, total) => {
      // A phase has ended when its last unit is reported; clustering ends where calibration starts.
      if (phase === 'prefill' && done === total) cpuAt.prefill = cpuMsSince(cpuStart);
      if (phase === 'calibrate' && done === 0) cpuAt.cluster = cpuMsSince(cpuStart);
      if (phase === 'calibrate' && done === total) cpuAt.calibrate = cpuMsSince(cpuStart);
      if (Date.now() - lastReport < 10_000 && done < total) return;
      lastReport = Date.now();
      process.stderr.write(`  ${phase} ${done}/${total}\n`);
    },
  });
  if (first.pack.built && first.pack.build) {
    const { prefill, cluster, calibrate } = cpuAt;
    const record: BuildRecord = {
      ...first.pack.build,
      date: new Date().toISOString(),
      ...(prefill !== undefined && cluster !== undefined && calibrate !== undefined && {
        cpuMs: { prefill, cluster: cluster - prefill, calibrate: calibrate - cluster },
      }),
    };
    writeFileSync(buildRecordPath(first.pack), JSON.stringify(record) + '\n');
  }
  const recordPath = buildRecordPath(first.pack);
  if (!existsSync(recordPath)) throw new Error(`${first.pack.path} has no build record (built outside this benchmark): pass --rebuild`);
  const record = JSON.parse(readFileSync(recordPath, 'utf8')) as BuildRecord;
  // A second open finds the pack on disk: its load time is what a later session pays.
  const chat = first.pack.built ? await DocChat.open(model, context, options) : first;
  return [chat, {
    path: chat.pack.path, bytes: chat.pack.bytes, build: { ...record, thisRun: first.pack.built }, loadMs: chat.pack.loadMs ?? NaN,
  }];
}

function askMode(mode: ModeName): AskMode {
  if (mode === 'dense' || mode === 'all') return { kind: mode };
  return { kind: 'sparsity', sparsity: Number.parseFloat(mode) / 100 };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function rowLabel(m: ModeRow): string {
  return m.tokenMass ? `${m.mode} +mass` : m.mode;
}

/**
 * One warm-up answer evaluates the question in this mode (and, with token mass, the neutral question
 * citations subtract); each timed answer then reuses it from the cache and evaluates only its last
 * token, so every timed pass is a single-token decode step, GENERATED_TOKENS of them. The token-mass
 * variants share the cached question (collecting mass does not change K/V) and take turns, so a
 * change in the machine's load falls on both alike.
 */
async function timeMode(chat: DocChat, mode: ModeName, tokenMassVariants: boolean[], repeats: number): Promise<ModeRow[]> {
  const options = (tokenMass: boolean) => ({ mode: askMode(mode), remember: false, tokenMass, ignoreEog: true });
  for (const tokenMass of [...tokenMassVariants].sort((a, b) => Number(b) - Number(a))) await chat.ask(QUESTION, { ...options(tokenMass), maxTokens: 1 });
  const runs = tokenMassVariants.map(() => [] as { result: AskResult; cpuMs: number }[]);
  for (let r = 0; r < repeats; r++) {
    const order = tokenMassVariants.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const cpuStart = process.cpuUsage();
      const result = await chat.ask(QUESTION, { ...options(tokenMassVariants[i]), maxTokens: GENERATED_TOKENS });
      runs[i].push({ result, cpuMs: cpuMsSince(cpuStart) });
    }
  }
  return tokenMassVariants.map((tokenMass, i) => rowOf(mode, tokenMass, runs[i]));
}

function rowOf(mode: ModeName, tokenMass: boolean, timed: { result: AskResult; cpuMs: number }[]): ModeRow {
  const runs = timed.map((t) => t.result);
  const passesOf = (r: AskResult): number => r.timings.generated + (r.stopReason === 'max_tokens' ? 0 : 1);
  const perPass = (f: (r: AskResult) => number): number => mean(runs.map((r) => f(r) / passesOf(r)));
  const total = (r: AskResult): number => r.timings.prefillMs + r.timings.decodeMs;
  const last = runs[runs.length - 1];
  return {
    mode,
    tokenMass,
    passes: passesOf(last),
    generated: last.timings.generated,
    stopReason: last.stopReason,
    tokensPerSecond: mean(runs.map((r) => (passesOf(r) * 1000) / total(r))),
    msPerToken: {
      total: perPass(total),
      lookup: perPass((r) => r.stats.lookupMs),
      attention: perPass((r) => r.stats.attentionMs),
      fixed: perPass((r) => r.stats.fixedAttentionMs),
      dynamic: perPass((r) => r.stats.dynamicAttentionMs),
      merge: perPass((r) => r.stats.mergeMs),
      rest: perPass((r) => total(r) - r.stats.lookupMs - r.stats.attentionMs),
    },
    cpuMsPerToken: timed.reduce((ms, t) => ms + t.cpuMs, 0) / runs.reduce((n, r) => n + passesOf(r), 0),
    sparsity: last.stats.sparsity,
    keysAttendedShare: mode === 'dense' ? 1 : 1 - last.stats.sparsity,
    bytesRead: last.stats.bytesRead,
    bytesDense: last.stats.bytesDense,
  };
}

function llamaBench(bin: string, model: string, threads: number, depth: number, repeats: number): DepthResult['llamaCpp'] {
  // --llama-repeats 0: our own modes only (before/after comparisons of the engine), llama.cpp's row NaN
  if (repeats === 0) return { tokensPerSecond: NaN, flashAttn: null, typeK: null, repetitions: 0 };
  const json = execFileSync(bin, [
    '-m', model, '-t', String(threads), '-p', '0', '-n', String(GENERATED_TOKENS), '-d', String(depth), '-r', String(repeats), '-o', 'json',
  ], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const [row] = JSON.parse(json) as Array<{ avg_ts: number; flash_attn: unknown; type_k: unknown }>;
  return { tokensPerSecond: row.avg_ts, flashAttn: row.flash_attn, typeK: row.type_k, repetitions: repeats };
}

function ratiosOf(rows: ModeRow[], llamaTokensPerSecond: number): Record<string, number> {
  const modes = rows.filter((m) => !m.tokenMass);
  const dense = modes.find((m) => m.mode === 'dense');
  const all = modes.find((m) => m.mode === 'all');
  const out: Record<string, number> = {};
  for (const withMass of rows.filter((m) => m.tokenMass)) {
    const without = modes.find((m) => m.mode === withMass.mode);
    if (!without) continue;
    out[`${withMass.mode}: token mass collection, ms/token (wall)`] = withMass.msPerToken.total - without.msPerToken.total;
    out[`${withMass.mode}: token mass collection, CPU ms/token`] = withMass.cpuMsPerToken - without.cpuMsPerToken;
    out[`${withMass.mode}: token mass collection, fixed-part ms/token`] = withMass.msPerToken.fixed - without.msPerToken.fixed;
  }
  // The engine's own dense attention is not instrumented; with the rest of the step equal to the
  // all-clusters run's, its attention time is the dense step less that rest.
  const denseAttention = dense && all ? dense.msPerToken.total - all.msPerToken.rest - all.msPerToken.lookup : NaN;
  if (dense) out['dense: attention ms/token (estimated)'] = denseAttention;
  for (const m of modes) {
    if (m.mode === 'dense' || m.mode === 'all') continue;
    const fixed = m.msPerToken.attention + m.msPerToken.lookup;
    if (all) out[`${m.mode}: attention time, all clusters / squeezed (lookup included)`] = all.msPerToken.attention / fixed;
    if (dense) out[`${m.mode}: attention time, engine dense (estimated) / squeezed (lookup included)`] = denseAttention / fixed;
    if (dense) out[`${m.mode}: decode tok/s vs our dense`] = m.tokensPerSecond / dense.tokensPerSecond;
    out[`${m.mode}: decode tok/s vs llama.cpp`] = m.tokensPerSecond / llamaTokensPerSecond;
  }
  if (dense) out['dense: decode tok/s vs llama.cpp'] = dense.tokensPerSecond / llamaTokensPerSecond;
  return out;
}

interface Goal {
  goal: string;
  value: string;
  met: boolean;
}

function goalsOf(preset: string, results: DepthResult[], threads: number): Goal[] {
  const goals: Goal[] = [];
  for (const r of results) {
    const all = r.ratios['90%: attention time, all clusters / squeezed (lookup included)'];
    if (all !== undefined) goals.push({ goal: `${r.depth} tokens, 90%: fixed-context attention ≥ 5× lower than our dense (all clusters)`, value: `${all.toFixed(2)}×`, met: all >= 5 });
    if (r.depth >= 32768) {
      const vs = r.ratios['90%: decode tok/s vs llama.cpp'];
      if (vs !== undefined) goals.push({ goal: `${r.depth} tokens, 90%: end-to-end decode ≥ 2× llama.cpp`, value: `${vs.toFixed(2)}×`, met: vs >= 2 });
    }
    if (preset === 'smollm2' && r.depth === 8192) {
      // On a loaded machine the wall time mostly measures the other processes; the CPU time over the
      // threads is what an otherwise idle machine takes.
      const wall = r.pack.build.clusterMs / 1000;
      const cpu = r.pack.build.cpuMs ? r.pack.build.cpuMs.cluster / 1000 / threads : undefined;
      goals.push({
        goal: 'SmolLM2 8K: clustering ≤ 60 s on this machine' + (cpu === undefined ? '' : ' (CPU time / threads)'),
        value: `${wall.toFixed(1)} s wall` + (cpu === undefined ? '' : `, ${cpu.toFixed(1)} s CPU / ${threads}`),
        met: (cpu ?? wall) <= 60,
      });
    }
  }
  return goals;
}

interface Report {
  suite: 'cpu-squeeze';
  model: string;
  modelPath: string;
  machine: Machine & { load: string };
  threads: number;
  question: string;
  generatedTokens: number;
  notes: string[];
  results: DepthResult[];
  goals: Goal[];
}

function markdown(r: Report): string {
  const lines = [
    `# CPU Squeezed Attention: ${r.model}`,
    '',
    `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB; ${r.threads} threads; commit ${r.machine.commit}; ${r.machine.date}`,
    '',
    `Command: \`${r.machine.command}\``,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ];
  for (const d of r.results) {
    const b = d.pack.build;
    lines.push(`## ${d.nFixed} fixed-context tokens (llama-bench depth ${d.depth})`, '');
    lines.push(`Load average (1 min) at the start of our decode timing: ${d.load.ours.toFixed(2)}; of llama-bench: ${d.load.llamaCpp.toFixed(2)}.`, '');
    const cpu = (ms: number | undefined): string => (ms === undefined ? '' : ` (${(ms / 1000).toFixed(1)} CPU)`);
    lines.push('| prefill s | clustering s | calibration s | pack MiB | pack load ms | built |', '|---|---|---|---|---|---|');
    lines.push(`| ${(b.prefillMs / 1000).toFixed(1)}${cpu(b.cpuMs?.prefill)} | ${(b.clusterMs / 1000).toFixed(1)}${cpu(b.cpuMs?.cluster)} | ` +
      `${(b.calibrateMs / 1000).toFixed(1)}${cpu(b.cpuMs?.calibrate)} | ${(d.pack.bytes / 2 ** 20).toFixed(1)} | ${d.pack.loadMs.toFixed(0)} | ` +
      `${b.thisRun ? 'this run' : `cached, ${b.date}`} |`, '');
    lines.push('Times per single-token step in ms (wall); CPU ms = CPU time of all threads per step.', '');
    lines.push('attention = sparse (fixed context) + dynamic part + merge (the shared softmax that joins them: exp, sums, normalising and f16 rounding).', '');
    lines.push('| mode | tok/s | ms/token | CPU ms/token | lookup | attention | sparse | dynamic | merge | rest | keys read | bytes read |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const m of d.modes) {
      const t = m.msPerToken;
      const dash = m.mode === 'dense';
      const phase = (x: number, digits: number): string => (dash ? '—' : x.toFixed(digits));
      lines.push(`| ${rowLabel(m)} | ${m.tokensPerSecond.toFixed(2)} | ${t.total.toFixed(1)} | ${m.cpuMsPerToken.toFixed(1)} | ${phase(t.lookup, 2)} | ${phase(t.attention, 2)} | ` +
        `${phase(t.fixed, 2)} | ${phase(t.dynamic, 3)} | ${phase(t.merge, 3)} | ${phase(t.rest, 1)} | ${(100 * m.keysAttendedShare).toFixed(1)}% | ` +
        `${dash ? '—' : `${(m.bytesRead / 2 ** 20).toFixed(0)} / ${(m.bytesDense / 2 ** 20).toFixed(0)} MiB`} |`);
    }
    lines.push(`| llama.cpp tg${GENERATED_TOKENS} @ d${d.depth} | ${d.llamaCpp.tokensPerSecond.toFixed(2)} | ${(1000 / d.llamaCpp.tokensPerSecond).toFixed(1)} | | | | | | | | | |`, '');
    for (const [k, v] of Object.entries(d.ratios)) lines.push(`- ${k}: ${v.toFixed(2)}`);
    lines.push('');
  }
  lines.push('## Goals', '', '| goal | measured | met |', '|---|---|---|');
  for (const g of r.goals) lines.push(`| ${g.goal} | ${g.value} | ${g.met ? 'yes' : 'no'} |`);
  return lines.join('\n') + '\n';
}

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run bench -- squeeze [--model ${Object.keys(PRESETS).join('|')}|PATH] [--depths N,...] [--sparsities 70,90]\n` +
    '       [--mass-modes all,90] [--threads N] [--repeats N] [--llama-repeats N (0: skip llama.cpp)] [--pack-dir DIR] [--rebuild]\n' +
    '       [--tag NAME (results file name ends in -NAME)]\n');
  process.exit(2);
}

function positiveInts(v: string, what: string): number[] {
  const xs = v.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x <= 0)) usage(`${what} must be positive integers, got ${v}`);
  return xs;
}

export async function runSqueezeBench(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' }, depths: { type: 'string' }, sparsities: { type: 'string' }, 'mass-modes': { type: 'string' }, threads: { type: 'string' },
        repeats: { type: 'string' }, 'llama-repeats': { type: 'string' }, 'pack-dir': { type: 'string' }, rebuild: { type: 'boolean' },
        tag: { type: 'string' },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  const name = values.model ?? 'smollm2';
  const preset = PRESETS[name];
  const modelPath = preset ? preset.path() : name;
  if (!existsSync(modelPath)) usage(`${modelPath} is neither a preset nor a file`);
  const depths = values.depths ? positiveInts(values.depths, '--depths') : (preset?.depths ?? [8192]);
  const sparsities = positiveInts(values.sparsities ?? '70,90', '--sparsities');
  if (sparsities.some((s) => s >= 100)) usage('--sparsities are percentages below 100');
  // Modes timed with and without token mass collected, taking turns: what citations cost per token.
  const massModes = (values['mass-modes'] ?? 'all,90').split(',').filter(Boolean).map((m) => (m === 'all' ? m : `${positiveInts(m, '--mass-modes')[0]}%`)) as ModeName[];
  const [threads] = positiveInts(values.threads ?? '2', '--threads');
  const [repeats] = positiveInts(values.repeats ?? '3', '--repeats');
  const llamaRepeats = values['llama-repeats'] === '0' ? 0 : positiveInts(values['llama-repeats'] ?? '1', '--llama-repeats')[0];
  if (values.tag !== undefined && !/^[\w.-]+$/.test(values.tag)) usage(`--tag must be letters, digits, '.', '_' or '-', got ${values.tag}`);
  const packDir = values['pack-dir'] ?? join(homedir(), '.cache', 'squeeze', 'packs', 'bench');
  const bin = execFileSync('bash', ['scripts/build-llama-bench.sh'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();

  const model = await Model.load(modelPath);
  const modes: ModeName[] = ['dense', 'all', ...sparsities.map((s) => `${s}%` as const)];
  const untimed = massModes.filter((m) => !modes.includes(m));
  if (untimed.length > 0) usage(`--mass-modes ${untimed.join(',')} must be among the timed modes (${modes.join(',')})`);
  const results: DepthResult[] = [];
  for (const depth of depths) {
    process.stderr.write(`${name} at ${depth} tokens: pack\n`);
    const [chat, pack] = await openPack(model, documentOfTokens(model, depth), depth, threads, packDir, values.rebuild ?? false);
    const rows: ModeRow[] = [];
    const loadOurs = loadavg()[0];
    for (const mode of modes) {
      const withMass = massModes.includes(mode);
      process.stderr.write(`  decode ${mode}${withMass ? ', with and without token mass' : ''}\n`);
      rows.push(...(await timeMode(chat, mode, withMass ? [false, true] : [false], repeats)));
    }
    process.stderr.write(`  llama-bench -d ${depth}\n`);
    const loadLlamaCpp = loadavg()[0];
    const llamaCpp = llamaBench(bin, modelPath, threads, depth, llamaRepeats);
    results.push({
      depth, nFixed: chat.fixedTokens.length, pack, modes: rows, llamaCpp,
      load: { ours: loadOurs, llamaCpp: loadLlamaCpp }, ratios: ratiosOf(rows, llamaCpp.tokensPerSecond),
    });
  }

  const modelName = preset ? name : (modelPath.split('/').pop() ?? name).replace(/\.gguf$/, '').toLowerCase();
  const report: Report = {
    suite: 'cpu-squeeze',
    model: modelName,
    modelPath,
    machine: { ...describeMachine(), load: loadavg().map((x) => x.toFixed(2)).join(' ') },
    threads,
    question: QUESTION,
    generatedTokens: GENERATED_TOKENS,
    notes: [
      'Shared machine: other helpers were building and testing on the same 2 cores during the run (1-minute load averages per depth in results[].load, at the end in machine.load); timings move with that load, llama.cpp (spinning thread pool) more than ours.',
      'Per-token times are over single-token forward passes: a warm-up answer evaluates the question, each timed answer reuses it and evaluates its last token, then one pass per generated token. Means over the repeats.',
      "attention = the squeezed path's sparse (selected document keys) + dynamic (the conversation's rows) + merge time, each the threads' time in that part scaled to the phase's wall time; lookup = centroid scoring and selection; rest = total - both (weights, norms, sampling). The engine's dense mode is not instrumented: its attention time is estimated as its step time less the all-clusters run's rest and lookup.",
      'Timed answers ignore end-of-generation (always the same number of decode steps) and collect no per-token attention mass, except the "+mass" rows, which collect it as answers with citations do (its cost counts in the sparse column).',
      `llama-bench: -p 0 -n ${GENERATED_TOKENS} -d DEPTH on the same GGUF and thread count (tg at depth, after its own prefill of DEPTH tokens).`,
      'The document is the Apache License 2.0 text repeated into pages; the question asks for a long answer, but the model may end early (passes and stopReason are recorded).',
    ],
    results,
    goals: goalsOf(name, results, threads),
  };
  for (const d of results) {
    process.stdout.write(`\n${modelName}: ${d.nFixed} fixed tokens; pack ${(d.pack.bytes / 2 ** 20).toFixed(1)} MiB, prefill ${(d.pack.build.prefillMs / 1000).toFixed(1)} s, ` +
      `clustering ${(d.pack.build.clusterMs / 1000).toFixed(1)} s, calibration ${(d.pack.build.calibrateMs / 1000).toFixed(1)} s, load ${d.pack.loadMs.toFixed(0)} ms\n`);
    printTable(['mode', 'tok/s', 'ms/token', 'CPU ms/token', 'lookup ms', 'attention ms', 'sparse ms', 'dynamic ms', 'merge ms', 'rest ms', 'keys read %'], [
      ...d.modes.map((m) => {
        const t = m.msPerToken;
        return [rowLabel(m), m.tokensPerSecond, t.total, m.cpuMsPerToken, t.lookup, t.attention, t.fixed, t.dynamic, t.merge, t.rest, 100 * m.keysAttendedShare];
      }),
      [`llama.cpp d${d.depth}`, d.llamaCpp.tokensPerSecond, 1000 / d.llamaCpp.tokensPerSecond, '', '', '', '', '', '', '', ''],
    ]);
  }
  process.stdout.write('\n');
  printTable(['goal', 'measured', 'met'], report.goals.map((g) => [g.goal, g.value, g.met ? 'yes' : 'no']));

  const dir = join(REPO, 'bench', 'results');
  const base = join(dir, `cpu-squeeze-${modelName}-${depths.map((d) => `${d / 1024}k`).join('-')}-${report.machine.date.slice(0, 10)}${values.tag ? `-${values.tag}` : ''}`);
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown(report));
  process.stdout.write(`\nwritten to ${base}.json and .md\n`);
}
