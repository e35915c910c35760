// Checks the tokenizer against llama.cpp on any byte-level BPE vocabulary from a Hugging Face
// tokenizer.json, for vocabularies too big to keep as test fixtures (Qwen's is 11 MB):
// converts it to GGUF tokenizer keys the way llama.cpp's convert_hf_to_gguf.py does (added
// tokens: special -> control, others -> user-defined), writes a tiny random model with it, and
// compares token ids on the test corpus and 100 KB of text, with and without parse_special,
// and the end-of-generation flag of every token.
//
//   node --import tsx scripts/check-hf-tokenizer.ts path/to/tokenizer.json qwen2 [path/to/tokenizer_config.json]
//
// Exit code 0 when everything matches, 1 otherwise (mismatches are printed).
import { readFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { createTokenizer } from '../main/engine/tokenizer/index.ts';
import { CORPUS, longText } from '../test/fixtures/tokenizer/corpus.ts';
import { metadataOf, VocabModels, type GgufVocab } from '../test/fixtures/tokenizer/vocabs.ts';
import { closeReference, referenceTokenize } from '../test/support/llama-cpp-reference.ts';

interface HfTokenizer {
  model: { type: string; vocab: Record<string, number>; merges: Array<string | [string, string]> };
  added_tokens: Array<{ id: number; content: string; special: boolean }>;
}

const [jsonPath, pre, configPath] = process.argv.slice(2);
if (!jsonPath || !pre) {
  console.error('usage: check-hf-tokenizer.ts TOKENIZER_JSON PRE [TOKENIZER_CONFIG_JSON]');
  process.exit(2);
}

function toGgufVocab(hf: HfTokenizer, eosText: string | undefined): GgufVocab {
  if (hf.model.type !== 'BPE') throw new Error(`model type ${hf.model.type} is not BPE`);
  const n = [...Object.values(hf.model.vocab), ...hf.added_tokens.map((t) => t.id)].reduce((a, b) => Math.max(a, b), -1) + 1;
  const tokens: string[] = Array.from({ length: n }, (_, i) => `[PAD${i}]`);
  const types: number[] = new Array(n).fill(5); // unused, for ids no token claims
  for (const [text, id] of Object.entries(hf.model.vocab)) {
    tokens[id] = text;
    types[id] = 1;
  }
  for (const t of hf.added_tokens) {
    tokens[t.id] = t.content;
    types[t.id] = t.special ? 3 : 4;
  }
  const merges = hf.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const vocab: GgufVocab = [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges }],
  ];
  const eos = eosText === undefined ? -1 : tokens.indexOf(eosText);
  if (eos >= 0) vocab.push(['tokenizer.ggml.eos_token_id', { type: 'u32', value: eos }]);
  return vocab;
}

const hf = JSON.parse(readFileSync(jsonPath, 'utf8')) as HfTokenizer;
const config = configPath ? (JSON.parse(readFileSync(configPath, 'utf8')) as { eos_token?: string }) : {};
const vocab = toGgufVocab(hf, config.eos_token);
const tok = createTokenizer(metadataOf(vocab));
const models = new VocabModels();
let mismatches = 0;
try {
  const path = await models.write(vocab);
  const texts = [...CORPUS, longText()];
  for (const special of [false, true]) {
    const ref = await referenceTokenize(path, texts, { special });
    texts.forEach((text, i) => {
      const ours = tok.encode(text, { parseSpecial: special });
      if (JSON.stringify(ours) === JSON.stringify(ref[i])) return;
      mismatches++;
      console.log(`MISMATCH parseSpecial=${special} ${JSON.stringify(text.slice(0, 80))}\n  llama.cpp ${JSON.stringify(ref[i].slice(0, 40))}\n  ours      ${JSON.stringify(ours.slice(0, 40))}`);
    });
  }
  const eog = Array.from({ length: tok.nVocab }, (_, id) => id).filter((id) => tok.isEog(id));
  const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
  for (let id = 0; id < tok.nVocab; id++) {
    const llamaEog = model.isEogToken(id as unknown as Token); // node-llama-cpp brands token ids
    if (tok.isEog(id) === llamaEog) continue;
    mismatches++;
    console.log(`MISMATCH end-of-generation ${id} ${JSON.stringify(tok.tokenText(id))}: llama.cpp ${llamaEog}`);
  }
  await model.dispose();
  console.log(`${tok.describe()}, ${tok.nVocab} tokens, end-of-generation: ${eog.map((id) => tok.tokenText(id)).join(' ')}`);
  console.log(`${mismatches === 0 ? 'all' : mismatches + ' not'} identical to llama.cpp (${texts.length * 2} tokenizations, ${tok.nVocab} EOG flags)`);
} finally {
  await closeReference();
  models.remove();
}
process.exit(mismatches === 0 ? 0 : 1);
