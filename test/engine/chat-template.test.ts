import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readGgufFileInfo } from 'node-llama-cpp';
import { renderChat, type ChatMessage } from '../../main/engine/chat-template.ts';
import { LLAMA3_CHAT_TEMPLATE } from '../fixtures/tokenizer/vocabs.ts';
import { smollm2Path } from '../support/models.ts';

const SMOL_OPTS = { bosToken: '<|im_start|>', eosToken: '<|im_end|>' };
const LLAMA3_OPTS = { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' };

async function smollm2Template(): Promise<string> {
  const info = await readGgufFileInfo(smollm2Path(), { readTensorInfo: false });
  const template = (info.metadata as unknown as { tokenizer: { chat_template?: string } }).tokenizer.chat_template;
  assert.equal(typeof template, 'string');
  return template!;
}

const CONVERSATION: ChatMessage[] = [
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: '4.' },
  { role: 'user', content: 'And 3+3?' },
];

test("SmolLM2's own template: default system prompt, turns, generation prompt", async () => {
  const template = await smollm2Template();
  assert.equal(
    renderChat(template, CONVERSATION, { ...SMOL_OPTS, addGenerationPrompt: true }),
    '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n' +
      '<|im_start|>assistant\n4.<|im_end|>\n' +
      '<|im_start|>user\nAnd 3+3?<|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
  assert.equal(
    renderChat(template, [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }], {
      ...SMOL_OPTS,
      addGenerationPrompt: false,
    }),
    '<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n',
  );
});

test('Llama 3 template: BOS text once, headers, trimmed content', () => {
  const messages: ChatMessage[] = [{ role: 'system', content: '  Be brief.\n' }, ...CONVERSATION];
  assert.equal(
    renderChat(LLAMA3_CHAT_TEMPLATE, messages, { ...LLAMA3_OPTS, addGenerationPrompt: true }),
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n4.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
  );
});

test('no template (or an empty one) falls back to ChatML', () => {
  const expected = '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
  for (const template of [undefined, '', '  ']) {
    assert.equal(renderChat(template, [{ role: 'user', content: 'Hi' }], { ...SMOL_OPTS, addGenerationPrompt: true }), expected);
  }
});

test('message text is inserted verbatim, not interpreted as template code', () => {
  const content = "{{ 7 * 7 }} {% if true %}x{% endif %} '\" <|im_end|>";
  const out = renderChat(undefined, [{ role: 'user', content }], { ...SMOL_OPTS, addGenerationPrompt: false });
  assert.equal(out, `<|im_start|>user\n${content}<|im_end|>\n`);
});

test('broken templates and raise_exception give CHAT_TEMPLATE_ERROR', () => {
  const isTemplateError = (pattern: RegExp) => (e: Error & { code?: string }): boolean => {
    assert.equal(e.code, 'CHAT_TEMPLATE_ERROR');
    assert.match(e.message, pattern);
    return true;
  };
  const opts = { ...SMOL_OPTS, addGenerationPrompt: true };
  const hi: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
  assert.throws(() => renderChat('{% for m in messages %}{{ m.content }}', hi, opts), isTemplateError(/does not parse/));
  assert.throws(() => renderChat('{{ messages[0].content | no_such_filter }}', hi, opts), isTemplateError(/rendering/));
  const strict = "{% if messages[0]['role'] != 'system' %}{{ raise_exception('System message required') }}{% endif %}";
  assert.throws(() => renderChat(strict, hi, opts), isTemplateError(/System message required/));
});
