// @synthians/kit: what every Synthians service stands on.
export * from './errors.ts';
export * from './config.ts';
export * from './logger.ts';
export * from './ports.ts';
export * from './http.ts';
export * from './service.ts';
export * from './lifecycle.ts';
export * from './json.ts';
export * from './net.ts';
export * from './browser.ts';
export * from './text.ts';
export * from './testing.ts';
export * from './bus.ts';
export * from './words.ts';
