// @synthians/memory-core: the long-term memory service.
export { memoryCoreService } from './service.ts';
export { MemoryCore } from './memory-core.ts';
export { loadMemoryCoreConfig, memoryCoreSchema } from './config.ts';
