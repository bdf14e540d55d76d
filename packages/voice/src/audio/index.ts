// Audio in: decode raw PCM / WAV, downmix to mono, resample to 16 kHz, cut into fixed-size frames.
export * from './pcm.ts';
export * from './wav.ts';
export * from './resample.ts';
export * from './frames.ts';
export * from './encode.ts';
