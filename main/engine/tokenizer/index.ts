export { tokenizerMetadataFromKv, TokenizerMetadataError, type TokenizerMetadata } from './metadata.ts';
export {
  createTokenizer,
  TokenizerError,
  type DecodeOptions,
  type EncodeOptions,
  type StreamDecoder,
  type Tokenizer,
} from './tokenizer.ts';
export { supportedPreTokenizers } from './pre-tokenize.ts';
