// Voice activity detection: Silero VAD v5 probabilities and a streaming start/end detector.
export * from './silero.ts';
export * from './detector.ts';
