// The voice services (`synthians serve vad`, …) and their bus subjects.
export * from './vad-service.ts';
export * from './subjects.ts';
export * from './config.ts';
export * from './engines.ts';
export * from './wyoming-service.ts';
export * from './preprocessor-service.ts';
export { SileroPool } from './audio-http.ts';
