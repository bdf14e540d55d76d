import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeFramesToMono,
  decodePcm,
  downmix,
  PcmStreamDecoder,
  PcmTo16k,
  type PcmEncoding,
} from './pcm.ts';
import { assertAppError, assertTone16k, encodePcm, interleave, RATES, rms, tone } from './test-helpers.ts';

const ENCODINGS: PcmEncoding[] = ['pcm_s16le', 'pcm_f32le'];

test('raw 1 kHz tone at every rate, mono and stereo, s16 and f32 -> 16 kHz tone at the same level', () => {
  for (const sampleRate of RATES) {
    for (const channels of [1, 2]) {
      for (const encoding of ENCODINGS) {
        const t = tone(sampleRate, 0.5);
        const bytes = encodePcm(channels === 1 ? t : interleave([t, t]), encoding);
        const out = decodePcm(bytes, { encoding, sampleRate, channels });
        assertTone16k(out, t.length, sampleRate, 0.5, `raw ${encoding} ${channels}ch ${sampleRate} Hz`);
      }
    }
  }
});

test('streaming decoder handles chunks that split samples and frames', () => {
  for (const encoding of ENCODINGS) {
    for (const sampleRate of [8000, 44100, 48000]) {
      const channels = 2;
      const t = tone(sampleRate, 0.1);
      const bytes = encodePcm(interleave([t, tone(sampleRate, 0.1, 440, 0.3)]), encoding);
      const format = { encoding, sampleRate, channels };
      const whole = decodePcm(bytes, format);
      for (const pattern of [[3, 5], [1], [7, 2, 11], [4096]]) {
        const s = new PcmTo16k(format);
        const out: number[] = [];
        let at = 0;
        let k = 0;
        while (at < bytes.length) {
          const n = pattern[k++ % pattern.length] ?? 1;
          out.push(...s.push(bytes.subarray(at, at + n)));
          at += n;
        }
        out.push(...s.end());
        assert.deepEqual(
          Float32Array.from(out),
          whole,
          `${encoding} ${sampleRate} Hz chunks ${pattern.join(',')}`,
        );
      }
    }
  }
  // 3 bytes then 5 bytes of stereo s16 (4-byte frames): 0 frames, then 2 frames.
  const d = new PcmStreamDecoder({ encoding: 'pcm_s16le', sampleRate: 16000, channels: 2 });
  const bytes = encodePcm(Float32Array.from([0.5, 0.25, -0.5, -0.25]), 'pcm_s16le');
  assert.equal(d.push(bytes.subarray(0, 3)).length, 0, 'no whole frame in 3 bytes');
  assert.deepEqual(
    d.push(bytes.subarray(3, 8)),
    Float32Array.from([0.375, -0.375]),
    'two frames after 5 more bytes',
  );
  d.end();
});

test('downmix: L = tone, R = -tone is silence; L = R is the tone', () => {
  const t = tone(16000, 0.1);
  const neg = t.map((v) => -v);
  for (const encoding of ENCODINGS) {
    const opposite = decodePcm(encodePcm(interleave([t, neg]), encoding), {
      encoding,
      sampleRate: 16000,
      channels: 2,
    });
    assert.ok(rms(opposite) < 1e-6, `${encoding}: opposite channels should cancel, rms ${rms(opposite)}`);
    const same = decodePcm(encodePcm(interleave([t, t]), encoding), {
      encoding,
      sampleRate: 16000,
      channels: 2,
    });
    const mono = decodePcm(encodePcm(t, encoding), { encoding, sampleRate: 16000, channels: 1 });
    assert.deepEqual(same, mono, `${encoding}: L = R equals the mono tone`);
  }
  assert.deepEqual(downmix(interleave([t, neg]), 2), new Float32Array(t.length), 'float downmix cancels');
  assert.deepEqual(downmix(interleave([t, t]), 2), t, 'float downmix of L = R');
});

test('unsupported raw formats are rejected with unsupported_audio_format', () => {
  const cases = [
    { encoding: 'pcm_u8', sampleRate: 16000, channels: 1 },
    { encoding: 'pcm_s24le', sampleRate: 16000, channels: 1 },
    { encoding: 'pcm_alaw', sampleRate: 8000, channels: 1 },
    { encoding: 'pcm_s16le', sampleRate: 16000, channels: 3 },
    { encoding: 'pcm_s16le', sampleRate: 16000, channels: 0 },
    { encoding: 'pcm_s16le', sampleRate: 11025, channels: 1 },
    { encoding: 'pcm_f32le', sampleRate: 96000, channels: 2 },
  ];
  for (const c of cases) {
    assertAppError(
      () => new PcmStreamDecoder(c as never),
      'unsupported_audio_format',
      `${c.encoding} ${c.channels}ch ${c.sampleRate}`,
    );
  }
});

test('non-finite float samples are rejected with non_finite_samples', () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const x = tone(16000, 0.01);
    x[77] = bad;
    const bytes = encodePcm(x, 'pcm_f32le');
    assertAppError(
      () => decodePcm(bytes, { encoding: 'pcm_f32le', sampleRate: 16000, channels: 1 }),
      'non_finite_samples',
      `one-shot ${bad}`,
    );
    const d = new PcmStreamDecoder({ encoding: 'pcm_f32le', sampleRate: 16000, channels: 1 });
    d.push(bytes.subarray(0, 203));
    const err = assertAppError(() => d.push(bytes.subarray(203)), 'non_finite_samples', `streamed ${bad}`);
    assert.deepEqual(err.details, { frame: 77, channel: 0 }, 'error names the absolute frame');
  }
  assertAppError(
    () => decodeFramesToMono(encodePcm(Float32Array.from([0, 0, 0, NaN]), 'pcm_f32le'), 'pcm_f32le', 2),
    'non_finite_samples',
    'NaN in right channel',
  );
});

test('a stream ending mid-frame is truncated_audio', () => {
  const d = new PcmTo16k({ encoding: 'pcm_s16le', sampleRate: 16000, channels: 2 });
  d.push(new Uint8Array(10));
  assertAppError(() => d.end(), 'truncated_audio', '10 bytes of 4-byte frames');
  assertAppError(
    () => decodePcm(new Uint8Array(7), { encoding: 'pcm_f32le', sampleRate: 48000, channels: 1 }),
    'truncated_audio',
    '7 bytes of f32',
  );
});
