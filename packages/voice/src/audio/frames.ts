// Fixed-size framing of a 16 kHz mono sample stream (e.g. 512 samples = 32 ms for VAD).

export const DEFAULT_FRAME_SIZE = 512;

export interface FrameResult {
  /** Complete frames, each exactly `frameSize` samples (copies, safe to keep). */
  frames: Float32Array[];
  /** Samples left over that do not fill a frame; pass them back in as `remainder` next time. */
  remainder: Float32Array;
}

/**
 * Splits `remainder + samples` into complete frames of `frameSize` samples plus the leftover samples.
 */
export function frames(
  samples: Float32Array,
  frameSize: number = DEFAULT_FRAME_SIZE,
  remainder: Float32Array = new Float32Array(0),
): FrameResult {
  if (!Number.isInteger(frameSize) || frameSize <= 0) {
    throw new RangeError(`frameSize must be a positive integer (got ${frameSize})`);
  }
  let all = samples;
  if (remainder.length > 0) {
    all = new Float32Array(remainder.length + samples.length);
    all.set(remainder, 0);
    all.set(samples, remainder.length);
  }
  const count = Math.floor(all.length / frameSize);
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) out.push(all.slice(i * frameSize, (i + 1) * frameSize));
  return { frames: out, remainder: all.slice(count * frameSize) };
}

/** Stateful wrapper around `frames`: push samples, get complete frames; `flush` returns the tail. */
export class Framer {
  private rest: Float32Array = new Float32Array(0);
  constructor(readonly frameSize: number = DEFAULT_FRAME_SIZE) {
    if (!Number.isInteger(frameSize) || frameSize <= 0) {
      throw new RangeError(`frameSize must be a positive integer (got ${frameSize})`);
    }
  }

  push(samples: Float32Array): Float32Array[] {
    const r = frames(samples, this.frameSize, this.rest);
    this.rest = r.remainder;
    return r.frames;
  }

  /** The samples that do not fill a frame (and resets). With `pad`, returns them zero-padded to a frame. */
  flush(pad = false): Float32Array {
    const rest = this.rest;
    this.rest = new Float32Array(0);
    if (!pad || rest.length === 0) return rest;
    const out = new Float32Array(this.frameSize);
    out.set(rest, 0);
    return out;
  }

  /** The samples that do not fill a frame yet, without consuming them (a view: do not modify). */
  peek(): Float32Array {
    return this.rest;
  }

  get pending(): number {
    return this.rest.length;
  }
}
