// The coordinator: the conversation core (turn engine), its HTTP service and the pieces it is built from.
export * from './config.ts';
export * from './memory.ts';
export * from './sessions.ts';
export * from './turn-engine.ts';
export * from './service.ts';
export { registerApi, type ApiContext } from './api.ts';
export * from './memory-writer.ts';
