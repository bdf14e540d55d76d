// @synthians/memory-core: the long-term memory service.
export { memoryCoreService } from './service.ts';
export { MemoryCore } from './memory-core.ts';
export { loadMemoryCoreConfig, memoryCoreSchema } from './config.ts';
export { createBuiltinEmbedder, BUILTIN_MODEL } from './embedding/builtin.ts';
export type { EmbeddingProvider } from './embedding/provider.ts';
export {
  createOnnxEncoder,
  resolveModelFiles,
  type OnnxEncoder,
  type OnnxEncoderOptions,
  type ExecutionProvider,
} from './embedding/onnx.ts';
export { WORD_VECTOR_MODEL_NAME } from './embedding/provider.ts';

/** Writes the glove-sif-100d model into `dir`; onnx-proto (the graph writer) loads only when this is called. */
export async function buildWordVectorModel(dir: string): Promise<void> {
  const { buildWordVectorModel: build } = await import('./embedding/word-vector-onnx.ts');
  await build(dir);
}
export { analyzeEmotion, type EmotionResult } from './emotion.ts';
