// `squeeze chat`: an interactive multi-turn conversation in the terminal, plain or over a document
// pack (--doc). Each turn re-renders the whole conversation with the chat template; the session
// reuses the cached KV of the shared prefix, so only the new turn is evaluated.
import { createInterface, type Interface } from 'node:readline/promises';

import type { ChatMessage } from './engine/chat-template.ts';
import type { AskMode, AskResult, DocChat } from './engine/doc-chat.ts';
import type { Model } from './engine/engine.ts';

export interface ChatOptions {
  system?: string;
  maxTokens: number;
  temperature: number;
  threads?: number;
  contextSize?: number;
}

/**
 * Trimmed input lines, each after a prompt. Reads through the interface's async iterator, which
 * queues lines that arrive while an answer is generated (question() drops them: piped input would
 * lose every line after the first).
 */
async function* promptedLines(rl: Interface): AsyncGenerator<string> {
  const input = rl[Symbol.asyncIterator]();
  for (;;) {
    process.stdout.write('\n> ');
    const next = await input.next();
    if (next.done) return;
    if (!process.stdin.isTTY) process.stdout.write(`${next.value}\n`); // echo piped input, so a transcript reads like a session
    yield next.value.trim();
  }
}

export async function chatLoop(model: Model, options: ChatOptions): Promise<void> {
  const session = model.createSession({ threads: options.threads, contextSize: options.contextSize });
  const messages: ChatMessage[] = options.system ? [{ role: 'system', content: options.system }] : [];
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  let generating: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (generating) generating.abort();
    else rl.close();
  });
  process.stdout.write(`Chatting with ${model.path}. Ctrl+C stops an answer; Ctrl+D or /exit quits.\n`);
  const lines = promptedLines(rl);
  try {
    for (;;) {
      const next = await lines.next();
      if (next.done) break;
      const question = next.value;
      if (question === '/exit') break;
      if (!question) continue;
      messages.push({ role: 'user', content: question });
      generating = new AbortController();
      const result = await session.generate(model.formatChat(messages), {
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        signal: generating.signal,
        onText: (t) => process.stdout.write(t),
      });
      generating = undefined;
      messages.push({ role: 'assistant', content: result.text });
      const t = result.timings;
      process.stdout.write(
        `\n[${t.nPrompt - t.nPromptReused} new prompt tokens (${t.nPromptReused} reused), ` +
          `${t.nGenerated} generated at ${t.decodeTokensPerSecond.toFixed(1)} tok/s; ${result.stopReason}]\n`,
      );
    }
  } finally {
    rl.close();
  }
}

export interface DocChatLoopOptions {
  maxTokens: number;
  temperature: number;
  mode: AskMode;
}

const DOC_CHAT_HELP = `Commands: /sparsity S (0 to 0.99: share of document keys skipped), /dense (every document key), /stats (last answer), /quit.`;

/**
 * `squeeze chat --doc PATH`: questions over a document pack. DocChat keeps the conversation, and its
 * session keeps the KV of the turns before, so each turn evaluates only its new tokens.
 */
export async function docChatLoop(chat: DocChat, options: DocChatLoopOptions): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  let mode = options.mode;
  let last: AskResult | undefined;
  let generating: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (generating) generating.abort();
    else rl.close();
  });
  process.stdout.write(`${DOC_CHAT_HELP}\nCtrl+C stops an answer; Ctrl+D or /quit leaves.\n`);
  const lines = promptedLines(rl);
  try {
    for (;;) {
      const next = await lines.next();
      if (next.done) break;
      const line = next.value;
      if (!line) continue;
      if (line.startsWith('/')) {
        const [command, arg] = line.split(/\s+/);
        if (command === '/quit' || command === '/exit') break;
        const reply = runCommand(command, arg, last);
        if (typeof reply === 'string') process.stdout.write(reply + '\n');
        else {
          mode = reply;
          process.stdout.write(`[${describeMode(mode)}]\n`);
        }
        continue;
      }
      generating = new AbortController();
      try {
        last = await chat.ask(line, {
          mode,
          maxTokens: options.maxTokens,
          temperature: options.temperature,
          signal: generating.signal,
          onText: (t) => process.stdout.write(t),
        });
        process.stdout.write('\n' + answerFooter(last).join('\n') + '\n');
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        process.stdout.write(`\n[not answered: ${(e as Error).message}${typeof code === 'string' ? ` (${code})` : ''}]\n`);
      } finally {
        generating = undefined;
      }
    }
  } finally {
    rl.close();
  }
}

/** A mode for /dense and /sparsity, or the text to print for the others. */
function runCommand(command: string, arg: string | undefined, last: AskResult | undefined): AskMode | string {
  if (command === '/dense') return { kind: 'all' };
  if (command === '/sparsity') {
    const s = Number(arg);
    if (arg === undefined || !Number.isFinite(s) || s < 0 || s >= 1) return 'usage: /sparsity S with S in [0, 1), e.g. /sparsity 0.9';
    return s === 0 ? { kind: 'all' } : { kind: 'sparsity', sparsity: s };
  }
  if (command === '/stats') return last ? statsLines(last).join('\n') : 'no answer yet';
  return `unknown command ${command}. ${DOC_CHAT_HELP}`;
}

function describeMode(mode: AskMode): string {
  switch (mode.kind) {
    case 'all':
      return 'dense: every document key is read';
    case 'dense':
      return 'dense attention (no citations)';
    case 'sparsity':
      return `sparsity ${mode.sparsity}: the least relevant ${Math.round(mode.sparsity * 100)}% of document keys are skipped`;
    case 'budget':
      return `budget: ${mode.budget} document keys per head`;
    case 'mass':
      return `mass: clusters until ${mode.massTarget} of the estimated attention`;
  }
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function answerFooter(r: AskResult): string[] {
  const t = r.timings;
  const lines = [
    `[${r.stats.mode}${r.stats.target !== undefined ? ` ${r.stats.target}` : ''}: sparsity ${(r.stats.sparsity * 100).toFixed(1)}%, ` +
      `KV read ${mib(r.stats.bytesRead)} of ${mib(r.stats.bytesDense)} MiB; ${t.prefillTokens} new tokens (${t.reusedTokens} reused), ` +
      `${t.generated} generated at ${t.decodeTokensPerSecond.toFixed(1)} tok/s; ${r.stopReason}]`,
  ];
  if (r.stopReason === 'context_full') lines.push('[the conversation has filled the context: start a new chat to ask more]');
  const cites = r.citations.slice(0, 3).map((c) => `${c.source} p.${c.page}${c.lines ? ` (lines ${c.lines[0]}-${c.lines[1]})` : ''} ${Math.round(c.share * 100)}%`);
  if (cites.length > 0) lines.push(`sources: ${cites.join('; ')}`);
  return lines;
}

function statsLines(r: AskResult): string[] {
  const s = r.stats;
  const means = s.keysPerLayer.map((l) => l.mean);
  return [
    `mode ${s.mode}${s.target !== undefined ? ` (target ${s.target})` : ''}, achieved sparsity ${(s.sparsity * 100).toFixed(1)}% of ${s.fixedTokens} document tokens`,
    `clusters per level: ${s.clustersPerLevel.join(' / ') || '-'}`,
    `keys read per layer: mean ${mean(means).toFixed(0)}, min ${Math.min(...means).toFixed(0)}, max ${Math.max(...means).toFixed(0)}`,
    `KV read ${mib(s.bytesRead)} of ${mib(s.bytesDense)} MiB dense`,
    `time: lookup ${s.lookupMs.toFixed(1)} ms, attention ${s.attentionMs.toFixed(1)} ms (document keys ${s.fixedAttentionMs.toFixed(1)}, ` +
      `conversation ${s.dynamicAttentionMs.toFixed(1)}, merge ${s.mergeMs.toFixed(1)}), the rest ${s.otherMs.toFixed(1)} ms`,
    `prefill ${r.timings.prefillTokens} tokens at ${r.timings.prefillTokensPerSecond.toFixed(1)} tok/s (${r.timings.reusedTokens} reused), ` +
      `decode ${r.timings.generated} at ${r.timings.decodeTokensPerSecond.toFixed(1)} tok/s`,
  ];
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}
