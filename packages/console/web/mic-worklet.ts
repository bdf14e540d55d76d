// AudioWorklet processor: the microphone as ~40 ms chunks of mono Int16 (little-endian on every platform browsers
// run on) PCM at the AudioContext's rate, each posted with its RMS level (0..1) to the main thread.
declare const sampleRate: number;
declare function registerProcessor(name: string, processorCtor: unknown): void;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}

class MicCapture extends AudioWorkletProcessor {
  private readonly size = Math.max(128, Math.round(sampleRate * 0.04));
  private chunk = new Int16Array(this.size);
  private filled = 0;
  private sumSquares = 0;

  process(inputs: Float32Array[][]): boolean {
    const channels = inputs[0];
    const first = channels?.[0];
    if (!channels || !first) return true;
    const count = channels.length;
    for (let i = 0; i < first.length; i++) {
      let s = 0;
      for (let c = 0; c < count; c++) s += channels[c]![i]!;
      s = count > 1 ? s / count : s;
      s = s > 1 ? 1 : s < -1 ? -1 : s;
      this.sumSquares += s * s;
      this.chunk[this.filled++] = s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
      if (this.filled === this.size) {
        const rms = Math.sqrt(this.sumSquares / this.size);
        this.port.postMessage({ pcm: this.chunk.buffer, rms }, [this.chunk.buffer]);
        this.chunk = new Int16Array(this.size);
        this.filled = 0;
        this.sumSquares = 0;
      }
    }
    return true;
  }
}

registerProcessor('mic-capture', MicCapture);

export {};
