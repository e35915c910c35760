// `squeeze` command line: the same engine as the app, no UI. Every command has --json.
// Exit codes: 0 ok, 2 bad usage, 3 bad input file (with the reason), 1 internal error.
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { chatLoop } from './cli-chat.ts';
import { isEngineError, Model, systemInfo } from './engine/engine.ts';
import { defaultModelPath } from './models/default-model.ts';

const USAGE = `usage:
  squeeze info MODEL [--json]
  squeeze tokenize --model MODEL --text TEXT [--no-special] [--json]
  squeeze run --model MODEL --prompt TEXT [--chat] [--max-tokens N] [--temperature T]
              [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]
              [--threads N] [--context N] [--json]
  squeeze chat [--model MODEL] [--system TEXT] [--max-tokens N] [--temperature T] [--threads N] [--context N]
  squeeze system [--json]`;

class UsageError extends Error {}

/** Codes of errors that mean "this input file is bad" rather than "squeeze is broken". */
const BAD_INPUT_PREFIXES = ['GGUF_', 'MODEL_', 'TOKENIZER_', 'CHAT_TEMPLATE_', 'CONTEXT_', 'EVAL_'];

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
    model: { type: 'string' },
    system: { type: 'string' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    threads: { type: 'string' },
    context: { type: 'string' },
  });
  const model = await Model.load(values.model ?? defaultModelPath());
  await chatLoop(model, {
    system: values.system,
    maxTokens: numberFlag(values['max-tokens'], '--max-tokens') ?? 512,
    temperature: numberFlag(values.temperature, '--temperature') ?? 0,
    threads: numberFlag(values.threads, '--threads'),
    contextSize: numberFlag(values.context, '--context'),
  });
}

async function system(argv: string[]): Promise<void> {
  const { values } = parse(argv, {});
  const si = systemInfo();
  print(values.json, si, `simd ${si.simd}, ${si.hardwareThreads} threads, ${(si.availableMemory / 2 ** 30).toFixed(1)} GiB available`);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { info, tokenize, run, chat, system };

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
