// @synthians/voice: audio in (decoding, resampling, DSP), VAD, wake word, speech to text and text to speech.
export * from './audio/index.ts';
export * from './vad/index.ts';
export * from './service/index.ts';
export * from './preprocess/index.ts';
export * from './tts/index.ts';
export * from './stt/index.ts';
export * from './wakeword/index.ts';
