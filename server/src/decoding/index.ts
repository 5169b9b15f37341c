// decoding/: the Generator, samplers, constraints, stopping criteria and the decode loop.
export { Generator, CANCELLED, type CausalLm, type KvCacheLike, type GeneratorOptions, type NextTokenOptions, type Cancelled } from './generator.js';
export { generate, type GenerateRequest, type GenerateResult, type TextDecoding } from './generate.js';
export { chooseToken, argmax, type SamplingOptions, type Choice, type TokenFilter } from './sampler.js';
export { ForcedPrefix } from './constraints.js';
export { findStopString, pendingStopPrefix, type StopReason, type StopOptions } from './stopping.js';
