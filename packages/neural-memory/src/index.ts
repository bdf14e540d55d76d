// @synthians/neural-memory: the computational core of the Synthians neural memory, after "Titans: Learning to
// Memorize at Test Time" (Behrouz et al., 2025) — projections, a test-time-trained MLP memory with momentum and
// forgetting, surprise, the MAC/MAG/MAL attention variants, an outer training loop, and state serialisation.
// Pure typed-array math (WebAssembly SIMD kernels assembled in-process, with a JS fallback); no HTTP.
export { NeuralMemory } from './memory.ts';
export type { Gates, SurpriseInfo, UpdateResult, Projections } from './memory.ts';
export { defaults, resolveConfig, VARIANTS } from './config.ts';
export type { NeuralMemoryConfig, ResolvedConfig, Variant, MemoryMode, Activation } from './config.ts';
export type { OuterOptions, OuterResult } from './outer.ts';
export { DeltaRuleMemory } from './delta-rule.ts';
export type { DeltaRuleConfig } from './delta-rule.ts';
export {
  validateEmbedding,
  toFloat32,
  isInvalidEmbedding,
  rejectZeroVector,
  INVALID_EMBEDDING,
  ZERO_VECTOR,
  FLOAT32_MAX,
} from './validate.ts';
export type { VectorLike } from './validate.ts';
export { Rng } from './rng.ts';
export type { RngState } from './rng.ts';
export { STATE_FORMAT_VERSION } from './serialize.ts';
export type { Backend } from './kernels.ts';
export { neuralMemoryService } from './service.ts';
export { neuralMemorySchema, loadNeuralMemoryConfig } from './service-config.ts';
export type { NeuralMemoryServiceConfig } from './service-config.ts';
