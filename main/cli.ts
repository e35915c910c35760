// `squeeze` command line: the same engine as the app, no UI. Every command has --json.
// Exit codes: 0 ok, 2 bad usage, 3 bad input file (with the reason), 1 internal error.
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { chatLoop, docChatLoop } from './cli-chat.ts';
import { buildFixedContext, openDocuments, type Document } from './docs/index.ts';
import { assertPlanFits, describePlan, planDocuments, readBuildRate, recordBuildRate, selectDocuments, type BuildRate, type DocumentPlan } from './docs/plan.ts';
import { DEFAULT_SYSTEM_PROMPT, defaultPackDir, DocChat, type AskMode } from './engine/doc-chat.ts';
import { isEngineError, Model, systemInfo } from './engine/engine.ts';
import { defaultModelPath } from './models/default-model.ts';

const USAGE = `usage:
  squeeze info MODEL [--json]
  squeeze tokenize --model MODEL --text TEXT [--no-special] [--json]
  squeeze run --model MODEL --prompt TEXT [--chat] [--max-tokens N] [--temperature T]
              [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]
              [--threads N] [--context N] [--json]
  squeeze chat [--model MODEL] [--system TEXT] [--max-tokens N] [--temperature T] [--threads N] [--context N]
  squeeze chat [--model MODEL] --doc PATH [--only F1,F2] [--sparsity S | --dense] [--pack-dir DIR] [--max-tokens N] [--threads N]
  squeeze ingest [--model MODEL] --doc PATH [--only F1,F2] [--plan] [--pack-dir DIR] [--rebuild] [--threads N] [--json]
  squeeze ask [--model MODEL] --doc PATH [--only F1,F2] [--sparsity S | --budget B | --dense | --all-clusters] [--per-layer]
              [--no-citations] [--pack-dir DIR] [--max-tokens N] [--threads N] [--json] QUESTION
  squeeze system [--json]`;

class UsageError extends Error {}

/** Codes of errors that mean "this input file is bad" rather than "squeeze is broken". */
const BAD_INPUT_PREFIXES = ['GGUF_', 'MODEL_', 'TOKENIZER_', 'CHAT_TEMPLATE_', 'CONTEXT_', 'EVAL_', 'PDF_', 'FILE_', 'FOLDER_', 'SYMLINK_', 'DOCUMENTS_', 'DOCX_'];

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { json: { type: 'boolean' }, ...options } as O & { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`missing ${flag}`);
  return value;
}

function numberFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number`);
  return n;
}

function print(json: boolean | undefined, data: unknown, human: string): void {
  process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : human + '\n');
}

async function info(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {});
  const path = requireString(positionals[0], 'MODEL');
  const model = await Model.load(path);
  const i = model.info;
  const types = Object.entries(i.tensorTypes).map(([t, n]) => `${t}×${n}`).join(' ');
  print(values.json, { path, ...i, tokenizer: model.tokenizer.describe(), hasChatTemplate: model.chatTemplate !== undefined }, [
    `${path}`,
    `  architecture  ${i.arch} (GGUF v${i.ggufVersion}, ${(i.fileSize / 2 ** 20).toFixed(1)} MiB, ${(i.nParams / 1e6).toFixed(1)}M parameters)`,
    `  context       ${i.nCtxTrain} tokens`,
    `  layers        ${i.nLayers}, embedding ${i.nEmbd}, feed-forward ${i.nFf}`,
    `  heads         ${i.nHeads} query, ${i.nKvHeads} key/value, head dim ${i.headDim}`,
    `  rope          ${i.ropeOrder}, base ${i.ropeFreqBase}, ${i.nRot} dims`,
    `  vocabulary    ${i.nVocab} (${model.tokenizer.describe()})`,
    `  tensors       ${i.nTensors}: ${types}`,
    `  output head   ${i.tiedOutput ? 'tied to token embeddings' : 'separate'}`,
  ].join('\n'));
}

async function tokenize(argv: string[]): Promise<void> {
  const { values } = parse(argv, { model: { type: 'string' }, text: { type: 'string' }, 'no-special': { type: 'boolean' } });
  const model = await Model.load(requireString(values.model, '--model'));
  const text = requireString(values.text, '--text');
  const tokens = model.tokenizer.encode(text, { addSpecial: true, parseSpecial: !values['no-special'] });
  const pieces = tokens.map((t) => model.tokenizer.tokenToPiece(t));
  print(values.json, { tokens, pieces }, tokens.map((t, k) => `${t}\t${JSON.stringify(pieces[k])}`).join('\n'));
}

async function run(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    chat: { type: 'boolean' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    'min-p': { type: 'string' },
    'repeat-penalty': { type: 'string' },
    seed: { type: 'string' },
    threads: { type: 'string' },
    context: { type: 'string' },
  });
  const model = await Model.load(requireString(values.model, '--model'));
  const promptText = requireString(values.prompt, '--prompt');
  const prompt = values.chat ? model.formatChat([{ role: 'user', content: promptText }]) : promptText;
  const session = model.createSession({ threads: numberFlag(values.threads, '--threads'), contextSize: numberFlag(values.context, '--context') });
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const result = await session.generate(prompt, {
    maxTokens: numberFlag(values['max-tokens'], '--max-tokens') ?? 128,
    temperature: numberFlag(values.temperature, '--temperature') ?? 0,
    topK: numberFlag(values['top-k'], '--top-k'),
    topP: numberFlag(values['top-p'], '--top-p'),
    minP: numberFlag(values['min-p'], '--min-p'),
    repeatPenalty: numberFlag(values['repeat-penalty'], '--repeat-penalty'),
    seed: numberFlag(values.seed, '--seed'),
    signal: controller.signal,
    onText: values.json ? undefined : (t) => process.stdout.write(t),
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const t = result.timings;
  process.stderr.write(
    `\n\n[${t.nPrompt} prompt tokens at ${t.prefillTokensPerSecond.toFixed(1)} tok/s, ` +
      `${t.nGenerated} generated at ${t.decodeTokensPerSecond.toFixed(1)} tok/s; stop: ${result.stopReason}]\n`,
  );
}

async function chat(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    ...PACK_FLAGS,
    system: { type: 'string' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    context: { type: 'string' },
    sparsity: { type: 'string' },
    dense: { type: 'boolean' },
  });
  const maxTokens = numberFlag(values['max-tokens'], '--max-tokens') ?? 512;
  const temperature = numberFlag(values.temperature, '--temperature') ?? 0;
  if (values.doc !== undefined) {
    // Dense in a chat reads every key through the squeezed path, which measures attention: the
    // answers keep their citations (the engine's plain dense attention has none).
    const asked = askMode(values);
    const mode: AskMode = asked.kind === 'dense' ? { kind: 'all' } : asked;
    const { chat: docChat } = await openDocChat(values, (plan) => process.stdout.write(describePlan(plan).join('\n') + '\n'));
    const p = docChat.pack;
    const b = p.build;
    process.stdout.write(
      (b ? `pack built in ${((b.prefillMs + b.clusterMs + b.calibrateMs + b.writeMs) / 1e3).toFixed(1)} s` : `pack loaded in ${((p.loadMs ?? 0) / 1e3).toFixed(2)} s`) +
        ` (${(p.bytes / 2 ** 20).toFixed(1)} MiB)\n`,
    );
    await docChatLoop(docChat, { maxTokens, temperature, mode });
    return;
  }
  const model = await Model.load(values.model ?? defaultModelPath());
  await chatLoop(model, {
    system: values.system,
    maxTokens,
    temperature,
    threads: numberFlag(values.threads, '--threads'),
    contextSize: numberFlag(values.context, '--context'),
  });
}

const PACK_FLAGS = {
  model: { type: 'string' },
  doc: { type: 'string' },
  only: { type: 'string' },
  'pack-dir': { type: 'string' },
  threads: { type: 'string' },
} as const;

interface PackValues {
  model?: string;
  doc?: string;
  only?: string;
  'pack-dir'?: string;
  threads?: string;
  rebuild?: boolean;
  json?: boolean;
}

/** Tokens a short prefill is timed on when no pack build of this model has been recorded. */
const CALIBRATION_TOKENS = 256;

/** Opens the documents (keeping --only ones) and plans the pack: tokens vs context, skips, ETA. */
async function planFor(values: PackValues, options: { calibrate: boolean }) {
  const model = await Model.load(values.model ?? defaultModelPath());
  const opened = await openDocuments(requireString(values.doc, '--doc'));
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const docs = only ? selectDocuments(opened, only) : opened;
  const packDir = values['pack-dir'] ?? defaultPackDir();
  const countTokens = (text: string) => model.tokenizer.encode(text, { addSpecial: false, parseSpecial: false }).length;
  const overheadTokens = model.tokenizer.encode(model.formatChat([{ role: 'system', content: `${DEFAULT_SYSTEM_PROMPT}\n\n` }], false), {
    addSpecial: true,
    parseSpecial: true,
  }).length;
  const rate = (await readBuildRate(packDir, model.fingerprint())) ?? (options.calibrate ? await calibrateRate(model, docs.documents, values) : undefined);
  const plan = planDocuments(docs, { countTokens, contextSize: model.info.nCtxTrain, overheadTokens, rate });
  return { model, docs, plan, packDir };
}

/** Times a prefill of the documents' first tokens (the prefill rate only, without clustering). */
async function calibrateRate(model: Model, documents: Document[], values: PackValues): Promise<BuildRate> {
  const text = buildFixedContext(documents).text;
  const tokens = model.tokenizer.encode(text, { addSpecial: true, parseSpecial: false }).slice(0, CALIBRATION_TOKENS);
  const session = model.createSession({ contextSize: tokens.length + 8, threads: numberFlag(values.threads, '--threads') });
  const r = await session.generate(tokens, { maxTokens: 1, temperature: 0 });
  return { tokensPerSecond: r.timings.prefillTokensPerSecond, tokens: tokens.length, source: 'calibration' };
}

/**
 * Opens the documents and their pack (loading it, or building it with progress on stderr).
 * `onPlan` sees the plan (tokens vs context, skips, ETA from the last build) before any work.
 */
async function openDocChat(values: PackValues, onPlan?: (plan: DocumentPlan) => void) {
  const { model, docs, plan, packDir } = await planFor(values, { calibrate: false });
  assertPlanFits(plan);
  onPlan?.(plan);
  const context = buildFixedContext(docs.documents);
  let last = '';
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  const chat = await DocChat.open(model, context, {
    signal: controller.signal,
    packDir,
    threads: numberFlag(values.threads, '--threads'),
    rebuild: values.rebuild,
    onProgress: (phase, done, total) => {
      const line = `\r${phase} ${done}/${total}`;
      if (line !== last && process.stderr.isTTY) process.stderr.write(line + (done === total ? '\n' : ''));
      last = line;
    },
  }).finally(() => process.off('SIGINT', onSigint));
  const b = chat.pack.build;
  if (b) await recordBuildRate(packDir, model.fingerprint(), b.nFixed, b.prefillMs + b.clusterMs + b.calibrateMs + b.writeMs);
  return { model, docs, chat, plan };
}

async function ingest(argv: string[]): Promise<void> {
  const { values } = parse(argv, { ...PACK_FLAGS, rebuild: { type: 'boolean' }, plan: { type: 'boolean' } });
  if (values.plan) {
    const { plan } = await planFor(values, { calibrate: true });
    print(values.json, { plan }, describePlan(plan).join('\n'));
    return;
  }
  const { docs, chat, plan } = await openDocChat(values, values.json ? undefined : (planned) => process.stderr.write(describePlan(planned).join('\n') + '\n'));
  const p = chat.pack;
  const b = p.build;
  print(values.json, { plan, pack: p, skipped: docs.skipped }, [
    `${p.path}`,
    `  ${p.built ? 'built' : 'loaded'}: ${p.nFixed} fixed-context tokens, ${(p.bytes / 2 ** 20).toFixed(1)} MiB` + (p.rebuildReason ? ` (rebuilt: ${p.rebuildReason})` : ''),
    b ? `  prefill ${(b.prefillMs / 1e3).toFixed(2)} s, clustering ${(b.clusterMs / 1e3).toFixed(2)} s, calibration ${(b.calibrateMs / 1e3).toFixed(2)} s, write ${(b.writeMs / 1e3).toFixed(2)} s`
      : `  load ${((p.loadMs ?? 0) / 1e3).toFixed(3)} s`,
    `  calibrated sparsities: ${p.sparsities.map((s) => `${Math.round(s * 1000) / 10}%`).join(', ')}${p.perLayerThresholds ? ' (global and per layer)' : ''}`,
    ...docs.skipped.map((s) => `  skipped ${s.source}${s.page ? ` page ${s.page}` : ''}: ${s.reason}`),
  ].join('\n'));
}

function askMode(values: { sparsity?: string; budget?: string; dense?: boolean; 'all-clusters'?: boolean; 'per-layer'?: boolean }): AskMode {
  const chosen = [values.sparsity !== undefined, values.budget !== undefined, !!values.dense, !!values['all-clusters']].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('choose one of --sparsity, --budget, --dense, --all-clusters');
  if (values.dense) return { kind: 'dense' };
  if (values['all-clusters']) return { kind: 'all' };
  const budget = numberFlag(values.budget, '--budget');
  if (budget !== undefined) {
    if (!Number.isInteger(budget) || budget <= 0) throw new UsageError('--budget must be a positive number of keys');
    return { kind: 'budget', budget };
  }
  const sparsity = numberFlag(values.sparsity, '--sparsity') ?? 0.9;
  if (sparsity < 0 || sparsity >= 1) throw new UsageError('--sparsity must be in [0, 1)');
  // Sparsity 0 reads every key: that is dense attention, exactly.
  return sparsity === 0 ? { kind: 'dense' } : { kind: 'sparsity', sparsity, perLayer: values['per-layer'] };
}

async function ask(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    ...PACK_FLAGS,
    sparsity: { type: 'string' },
    budget: { type: 'string' },
    dense: { type: 'boolean' },
    'all-clusters': { type: 'boolean' },
    'per-layer': { type: 'boolean' },
    'no-citations': { type: 'boolean' },
    'max-tokens': { type: 'string' },
  });
  const question = requireString(positionals.join(' '), 'QUESTION');
  const mode = askMode(values);
  const { chat } = await openDocChat(values);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const result = await chat.ask(question, {
    mode,
    maxTokens: numberFlag(values['max-tokens'], '--max-tokens') ?? 256,
    // Without citations no attention mass is collected per document token (a little faster).
    tokenMass: !values['no-citations'],
    signal: controller.signal,
    onText: values.json ? undefined : (t) => process.stdout.write(t),
  });
  if (values.json) {
    process.stdout.write(JSON.stringify({ ...result, pack: chat.pack }, null, 2) + '\n');
    return;
  }
  const s = result.stats;
  const t = result.timings;
  const cites = result.citations.slice(0, 3).map((c) => `${c.source} p.${c.page} (${Math.round(c.share * 100)}%)`).join(', ');
  process.stderr.write(
    `\n\n[${s.mode}${s.target !== undefined ? ` ${s.target}` : ''}: sparsity ${(s.sparsity * 100).toFixed(1)}%, ` +
      `KV read ${(s.bytesRead / 2 ** 20).toFixed(1)} of ${(s.bytesDense / 2 ** 20).toFixed(1)} MiB; ` +
      `${t.prefillTokens} question tokens at ${t.prefillTokensPerSecond.toFixed(1)} tok/s, ${t.generated} generated at ` +
      `${t.decodeTokensPerSecond.toFixed(1)} tok/s; pack ${chat.pack.built ? 'built' : 'loaded'}]\n` +
      (cites ? `[sources: ${cites}]\n` : ''),
  );
}

async function system(argv: string[]): Promise<void> {
  const { values } = parse(argv, {});
  const si = systemInfo();
  print(values.json, si, `simd ${si.simd}, ${si.hardwareThreads} threads, ${(si.availableMemory / 2 ** 30).toFixed(1)} GiB available`);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { info, tokenize, run, chat, ingest, ask, system };

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const handler = command ? COMMANDS[command] : undefined;
  try {
    if (!handler) throw new UsageError(command ? `unknown command '${command}'` : 'no command given');
    await handler(rest);
    return 0;
  } catch (e) {
    const json = rest.includes('--json');
    if (e instanceof UsageError) {
      report(json, 'USAGE', `${e.message}\n${USAGE}`);
      return 2;
    }
    if (isEngineError(e)) {
      report(json, e.code, e.message);
      return BAD_INPUT_PREFIXES.some((p) => e.code.startsWith(p)) ? 3 : 1;
    }
    report(json, 'INTERNAL', e instanceof Error ? (e.stack ?? e.message) : String(e));
    return 1;
  }
}

function report(json: boolean, code: string, message: string): void {
  if (json) process.stdout.write(JSON.stringify({ error: { code, message } }) + '\n');
  process.stderr.write(`squeeze: ${message} [${code}]\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
