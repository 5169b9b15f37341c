// tokenizer/: the HF tokenizer wrapper used by prompt building, decoding and the engine.
export { Tokenizer, toByteString, type StreamDecoder } from './tokenizer.js';
