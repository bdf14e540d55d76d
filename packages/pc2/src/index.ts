// @synthians/pc2: the PC2 ML worker and its model registry.
export { pc2Service } from './service.ts';
export { loadPc2Config, pc2Schema, type Pc2Config } from './config.ts';
export { MicroBatcher, Semaphore, QueueFullError } from './batcher.ts';
export { buildWordVectorModel, WORD_VECTOR_MODEL_NAME } from '@synthians/memory-core';
