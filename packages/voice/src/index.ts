// @synthians/voice: audio in (decoding, resampling, DSP), VAD, wake word, speech to text and text to speech.
export * from './audio/index.ts';
export * from './vad/index.ts';
