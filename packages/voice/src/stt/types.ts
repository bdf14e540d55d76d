// Speech to text: one interface for every engine. Audio is always 16 kHz mono float32 (the audio-in layer
// converts whatever the user sends); providers convert to what their engine wants.

export interface TranscribeOptions {
  /** BCP-47-ish language code, e.g. `en`; engine default when omitted. */
  language?: string;
  /** Hint text (OpenAI `prompt`); engines without prompts ignore it. */
  prompt?: string;
  /** Abort the request (HTTP request, socket, child process are torn down). */
  signal?: AbortSignal;
}

export interface Transcript {
  text: string;
  language?: string;
  /** Duration of the audio in ms. */
  durationMs: number;
  /** Engine-reported confidence in [0, 1] when it has one. */
  confidence?: number;
  /** Provider name, e.g. `openai`, `wyoming`, `pocketsphinx`. */
  provider: string;
}

/** A streaming recognition: write audio as it arrives, get partial text when the engine supports it. */
export interface SttStream {
  /** Append 16 kHz mono samples. */
  write(samples: Float32Array): void;
  /** Ends the audio and resolves to the final transcript. */
  end(): Promise<Transcript>;
  /** Abandons the recognition (no result). */
  cancel(): void;
}

export interface SttProvider {
  readonly name: string;
  /** True when `stream` gives partial results before `end` (otherwise partials are never called). */
  readonly streamingPartials: boolean;
  /**
   * Set when the engine only recognises a closed set of phrases (a command grammar): every non-empty transcript
   * is one of these (normalised) phrases. Lets a caller tell a complete command from a partial one.
   */
  readonly completePhrases?: readonly string[];
  /** Recognises a whole utterance. */
  transcribe(samples: Float32Array, options?: TranscribeOptions): Promise<Transcript>;
  /** Starts a streaming recognition; `onPartial` gets the text so far when the engine supports it. */
  stream(options?: TranscribeOptions & { onPartial?: (text: string) => void }): SttStream;
  /** Checks the engine is reachable / installed (for /health). */
  check(): Promise<{ ok: boolean; detail?: string }>;
  close(): Promise<void>;
}
