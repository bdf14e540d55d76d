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
export {
  buildWordVectorModel,
  buildWordVectorModelBytes,
  WORD_VECTOR_MODEL_NAME,
  onnxValueInfo,
  wordTokenizerJson,
} from './embedding/word-vector-onnx.ts';
export { analyzeEmotion, type EmotionResult } from './emotion.ts';
