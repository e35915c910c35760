// Chat prompts from a model's `tokenizer.chat_template` (Jinja, rendered by @huggingface/jinja,
// the same interpreter transformers.js uses), with ChatML when the model carries no template.

import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface RenderChatOptions {
  /** end with the header that opens the assistant's turn */
  addGenerationPrompt: boolean;
  /** the text of the model's BOS / EOS tokens, which templates often print themselves */
  bosToken: string;
  eosToken: string;
}

export class ChatTemplateError extends Error {
  readonly code = 'CHAT_TEMPLATE_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChatTemplateError';
  }
}

// What llama.cpp and transformers fall back to: ChatML, as SmolLM2, Qwen and many others use.
export const CHATML_TEMPLATE =
  "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

const PARSED_LIMIT = 8;
const parsed = new Map<string, Template>(); // a few templates, reused across turns

/**
 * Renders the conversation into the prompt text the model was trained on. Special-token texts
 * in the result (<|im_start|>, <|eot_id|>, the BOS text) are meant to be tokenized with
 * parseSpecial. Throws ChatTemplateError (code 'CHAT_TEMPLATE_ERROR') when the template does not
 * parse or fails while rendering (including its own raise_exception calls).
 */
export function renderChat(template: string | undefined, messages: ChatMessage[], opts: RenderChatOptions): string {
  const source = template === undefined || template.trim() === '' ? CHATML_TEMPLATE : template;
  const compiled = compile(source);
  try {
    return compiled.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: opts.addGenerationPrompt,
      bos_token: opts.bosToken,
      eos_token: opts.eosToken,
    });
  } catch (e) {
    throw new ChatTemplateError(`chat template failed while rendering: ${messageOf(e)}`, { cause: e });
  }
}

function compile(source: string): Template {
  let t = parsed.get(source);
  if (t) return t;
  try {
    t = new Template(source);
  } catch (e) {
    throw new ChatTemplateError(`chat template does not parse: ${messageOf(e)}`, { cause: e });
  }
  if (parsed.size >= PARSED_LIMIT) parsed.delete(parsed.keys().next().value!);
  parsed.set(source, t);
  return t;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
