// `squeeze chat`: an interactive multi-turn conversation in the terminal. Each turn re-renders the
// whole conversation with the chat template; the session reuses the cached KV of the shared prefix,
// so only the new turn is evaluated.
import { createInterface } from 'node:readline/promises';

import type { ChatMessage } from './engine/chat-template.ts';
import type { Model } from './engine/engine.ts';

export interface ChatOptions {
  system?: string;
  maxTokens: number;
  temperature: number;
  threads?: number;
  contextSize?: number;
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
  try {
    for (;;) {
      let question: string;
      try {
        question = (await rl.question('\n> ')).trim();
      } catch {
        break; // input closed
      }
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
