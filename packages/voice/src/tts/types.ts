// Text to speech: one interface for every engine, streaming sentence by sentence.
import type { PcmEncoding } from '../audio/pcm.ts';

export interface SynthesizeOptions {
  /** Engine voice name (e.g. espeak-ng `en-us`, a Piper voice, OpenAI `alloy`); engine default when omitted. */
  voice?: string;
  /** Output sample rate in Hz (the engine's audio is resampled to it). Default 16000. */
  sampleRate?: number;
  /** Output encoding of `audio` in each chunk. Default pcm_s16le. */
  encoding?: PcmEncoding;
  /** Speaking rate multiplier, 1 = normal. */
  speed?: number;
  signal?: AbortSignal;
}

/** One synthesised sentence. */
export interface TtsChunk {
  /** 0-based index of the sentence in the text. */
  index: number;
  /** The sentence text. */
  text: string;
  /** Raw mono PCM in `encoding` at `sampleRate`. */
  audio: Uint8Array;
  sampleRate: number;
  encoding: PcmEncoding;
}

export interface TtsVoice {
  name: string;
  languages: string[];
}

export interface TtsProvider {
  readonly name: string;
  /** Yields the audio sentence by sentence, the first as soon as it is ready. */
  synthesize(text: string, options?: SynthesizeOptions): AsyncIterable<TtsChunk>;
  voices(): Promise<TtsVoice[]>;
  check(): Promise<{ ok: boolean; detail?: string }>;
  close(): Promise<void>;
}
