// The vocabulary as llama.cpp's llama_vocab::impl::load leaves it: token attributes, special
// ids with their per-model defaults, the end-of-generation set, and the special tokens that the
// partition step cuts out of text. Much of this is decided from token *texts* (llama.cpp's
// workaround for GGUF files that lack the attributes); it is reproduced so that ids match.

import type { TokenizerMetadata } from './metadata.ts';

export const ATTR_UNKNOWN = 1 << 0;
export const ATTR_UNUSED = 1 << 1;
export const ATTR_NORMAL = 1 << 2;
export const ATTR_CONTROL = 1 << 3;
export const ATTR_USER_DEFINED = 1 << 4;
export const ATTR_BYTE = 1 << 5;

// llama_token_type as stored in tokenizer.ggml.token_type -> llama_token_attr
const TYPE_TO_ATTR = [0, ATTR_NORMAL, ATTR_UNKNOWN, ATTR_CONTROL, ATTR_USER_DEFINED, ATTR_UNUSED, ATTR_BYTE];

const EOT_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>', '[EOT]',
  '<｜end▁of▁sentence｜>', '<end_of_utterance>',
];
const EOG_TEXTS = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>',
  '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
]);
const FIM_PAD_TEXTS = ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'];
const FIM_REP_TEXTS = ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'];
const FIM_SEP_TEXTS = ['<|file_sep|>'];
const FIM_OTHER_TEXTS = [
  ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
];
// gpt-oss: llama.cpp always renders these, whatever the file says
const ALWAYS_USER_DEFINED = new Set(['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']);

export interface Vocab {
  texts: string[]; // [n_vocab]
  attrs: Uint16Array; // [n_vocab] llama_token_attr bits
  textToId: Map<string, number>;
  bos: number | undefined;
  eos: number | undefined;
  eot: number | undefined;
  eom: number | undefined;
  unk: number | undefined;
  pad: number | undefined;
  eog: Set<number>;
  /** ids cut out of text before tokenization, longest text (in UTF-8 bytes) first */
  specialTokens: number[];
}

export interface VocabDefaults {
  bos: number | undefined;
  eos: number | undefined;
  unk: number | undefined;
}

export function buildVocab(meta: TokenizerMetadata, defaults: VocabDefaults): Vocab {
  const n = meta.tokens.length;
  const texts = meta.tokens.map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
  const textToId = new Map<string, number>();
  texts.forEach((t, i) => textToId.set(t, i)); // a duplicate text resolves to its last id, as in llama.cpp
  const attrs = new Uint16Array(n).fill(ATTR_NORMAL);
  if (meta.tokenType) for (let i = 0; i < n; i++) attrs[i] = TYPE_TO_ATTR[meta.tokenType[i]] ?? 0;

  const inRange = (id: number | undefined): number | undefined => (id !== undefined && id >= 0 && id < n ? id : undefined);
  const vocab: Vocab = {
    texts,
    attrs,
    textToId,
    bos: meta.bosId ?? inRange(defaults.bos),
    eos: meta.eosId ?? inRange(defaults.eos),
    eot: meta.eotId,
    eom: meta.eomId,
    unk: meta.unknownId ?? inRange(defaults.unk),
    pad: meta.paddingId,
    eog: new Set(),
    specialTokens: [],
  };

  // Where several texts qualify, llama.cpp takes the first in its hash map's iteration order;
  // we take the first in its list order (so "<|eot_id|>" before "<|end_of_text|>"). For EOT this
  // only changes the reported id (every candidate is end-of-generation and control below); for
  // FIM tokens it would matter in a vocabulary holding two spellings of one, which none we know does.
  const findControl = (candidates: string[]): number | undefined => {
    for (const text of candidates) {
      const id = textToId.get(text);
      if (id !== undefined) {
        attrs[id] |= ATTR_CONTROL;
        return id;
      }
    }
    return undefined;
  };
  vocab.eot ??= findControl(EOT_TEXTS);
  vocab.eom ??= findControl(['<|eom_id|>']);
  const fimPad = findControl(FIM_PAD_TEXTS);
  const fimRep = findControl(FIM_REP_TEXTS);
  const fimSep = findControl(FIM_SEP_TEXTS);
  for (const candidates of FIM_OTHER_TEXTS) findControl(candidates);

  for (const [text, id] of textToId) {
    if (attrs[id] & ATTR_CONTROL && text.includes('unused')) attrs[id] |= ATTR_UNUSED;
  }

  const eog = vocab.eog;
  for (const id of [fimPad, fimRep, fimSep]) if (id !== undefined) eog.add(id);
  for (const [text, id] of textToId) {
    if (EOG_TEXTS.has(text)) {
      eog.add(id);
      attrs[id] |= ATTR_CONTROL;
    }
    if (ALWAYS_USER_DEFINED.has(text)) attrs[id] = ATTR_USER_DEFINED;
  }
  for (const id of [vocab.eos, vocab.eot, vocab.eom]) if (id !== undefined) eog.add(id);
  dropEogWorkarounds(vocab);

  const special: number[] = [];
  for (let id = 0; id < n; id++) if (attrs[id] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) special.push(id);
  const byteLength = special.map((id) => Buffer.byteLength(texts[id], 'utf8'));
  const order = special.map((_, i) => i).sort((a, b) => byteLength[b] - byteLength[a] || special[a] - special[b]);
  vocab.specialTokens = order.map((i) => special[i]);
  return vocab;
}

// o200k_harmony / solar-open: "<|end|>" ends a message, not the generation, when "<|return|>"
// and "<|call|>" (or "<|calls|>" and "<|flush|>") exist; gemma4: "</s>" beside "<|tool_response>".
function dropEogWorkarounds(vocab: Vocab): void {
  const eogText = new Map<string, number>();
  for (const id of vocab.eog) eogText.set(vocab.texts[id], id);
  const has = (t: string): boolean => eogText.has(t);
  const hasCall = has('<|call|>') || has('<|calls|>');
  const end = eogText.get('<|end|>');
  if (end !== undefined && ((has('<|return|>') && hasCall) || (hasCall && has('<|flush|>')))) {
    vocab.eog.delete(end);
    vocab.attrs[end] = ATTR_USER_DEFINED;
  }
  const s = eogText.get('</s>');
  if (s !== undefined && has('<|tool_response>')) {
    vocab.eog.delete(s);
    vocab.attrs[s] = ATTR_NORMAL;
  }
}
