// Fused audio preprocessing: resample to 16 kHz mono, high-pass, RNNoise noise suppression, AGC and VAD.
export * from './highpass.ts';
export * from './denoise.ts';
export * from './agc.ts';
export * from './pipeline.ts';
