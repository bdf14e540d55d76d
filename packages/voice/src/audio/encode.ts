// Audio out: mono float samples -> raw PCM bytes (s16le / f32le) or a WAV file.
import type { PcmEncoding } from './pcm.ts';

/** Mono float samples in [-1, 1] -> little-endian PCM bytes; s16 clips and rounds. */
export function encodePcmMono(samples: Float32Array, encoding: PcmEncoding): Uint8Array {
  if (encoding === 'pcm_f32le') {
    const out = new Uint8Array(samples.length * 4);
    const v = new DataView(out.buffer);
    for (let i = 0; i < samples.length; i++) v.setFloat32(i * 4, samples[i] ?? 0, true);
    return out;
  }
  const out = new Uint8Array(samples.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] ?? 0));
    v.setInt16(i * 2, Math.round(s * 32767), true);
  }
  return out;
}

/** A 44-byte canonical WAV header for mono PCM (`dataBytes` of sample data follow). */
export function wavHeader(sampleRate: number, encoding: PcmEncoding, dataBytes: number): Uint8Array {
  const bps = encoding === 'pcm_f32le' ? 4 : 2;
  const out = new Uint8Array(44);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, encoding === 'pcm_f32le' ? 3 : 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * bps, true);
  v.setUint16(32, bps, true);
  v.setUint16(34, bps * 8, true);
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  return out;
}

/** A mono WAV file (16-bit PCM by default). */
export function encodeWav(
  samples: Float32Array,
  sampleRate: number,
  encoding: PcmEncoding = 'pcm_s16le',
): Uint8Array {
  const data = encodePcmMono(samples, encoding);
  const out = new Uint8Array(44 + data.length);
  out.set(wavHeader(sampleRate, encoding, data.length), 0);
  out.set(data, 44);
  return out;
}
