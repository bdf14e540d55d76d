import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '@synthians/kit';
import { decodePcm } from './pcm.ts';
import { decodeWav, decodeWavNative, parseWav } from './wav.ts';
import {
  assertAppError,
  assertTone16k,
  buildWav,
  encodePcm,
  interleave,
  RATES,
  tone,
} from './test-helpers.ts';

const list = (n: number) => ({ id: 'LIST', body: new Uint8Array(n).fill(0x41) });

function toneWav(opts: { sampleRate: number; channels: number; float: boolean; extensible?: boolean }) {
  const t = tone(opts.sampleRate, 0.5);
  const data = encodePcm(
    opts.channels === 1 ? t : interleave([t, t]),
    opts.float ? 'pcm_f32le' : 'pcm_s16le',
  );
  const wav = buildWav(data, {
    channels: opts.channels,
    sampleRate: opts.sampleRate,
    bits: opts.float ? 32 : 16,
    formatTag: opts.float ? 3 : 1,
    extensible: opts.extensible ?? false,
  });
  return { t, data, wav };
}

test('WAV 1 kHz tone at every rate, mono and stereo, s16 and f32, plain and extensible', () => {
  for (const sampleRate of RATES) {
    for (const channels of [1, 2]) {
      for (const float of [false, true]) {
        for (const extensible of [false, true]) {
          const { t, wav } = toneWav({ sampleRate, channels, float, extensible });
          const out = decodeWav(wav);
          const label = `wav ${float ? 'f32' : 's16'}${extensible ? ' ext' : ''} ${channels}ch ${sampleRate} Hz`;
          assert.equal(out.sampleRate, 16000, `${label}: output rate`);
          assert.deepEqual(
            out.source,
            { encoding: float ? 'pcm_f32le' : 'pcm_s16le', sampleRate, channels },
            `${label}: source`,
          );
          assertTone16k(out.samples, t.length, sampleRate, 0.5, label);
        }
      }
    }
  }
});

test('WAV and raw decoding agree', () => {
  const { data, wav } = toneWav({ sampleRate: 44100, channels: 2, float: false });
  assert.deepEqual(
    decodeWav(wav).samples,
    decodePcm(data, { encoding: 'pcm_s16le', sampleRate: 44100, channels: 2 }),
    'same samples',
  );
});

test('unknown chunks are skipped, with odd-size padding', () => {
  const data = encodePcm(tone(16000, 0.01), 'pcm_s16le');
  const ref = decodeWavNative(buildWav(data, { channels: 1, sampleRate: 16000 })).samples;
  type Chunks = { id: string; body: Uint8Array }[];
  const layouts: [Chunks, Chunks][] = [
    [[list(3)], []],
    [[], [list(5), { id: 'fact', body: new Uint8Array(4) }]],
    [[list(1)], [list(7)]],
  ];
  for (const [before, between] of layouts) {
    const wav = buildWav(data, { channels: 1, sampleRate: 16000, before, between });
    assert.deepEqual(decodeWavNative(wav).samples, ref, `chunks ${before.length}+${between.length}`);
  }
  const empty = buildWav(new Uint8Array(0), { channels: 1, sampleRate: 16000 });
  assert.equal(decodeWavNative(empty).samples.length, 0, 'empty data chunk');
});

test('streamed WAVs (placeholder sizes) are read to the end', () => {
  const data = encodePcm(tone(16000, 0.01), 'pcm_s16le');
  const ref = decodeWavNative(buildWav(data, { channels: 1, sampleRate: 16000 })).samples;
  const variants = [
    { dataSize: 0xffffffff, riffSize: 0xffffffff },
    { dataSize: 0xffffffff },
    { dataSize: 0x7ffff000, riffSize: 0xffffffff },
    { dataSize: 0, riffSize: 0 },
    { dataSize: 1_000_000 }, // larger than the file, RIFF size consistent with the file
  ];
  for (const v of variants) {
    const wav = buildWav(data, { channels: 1, sampleRate: 16000, ...v });
    const info = parseWav(wav);
    assert.ok(info.streamed, `${JSON.stringify(v)}: marked streamed`);
    assert.deepEqual(decodeWavNative(wav).samples, ref, `${JSON.stringify(v)}: all samples`);
  }
});

test('truncated WAVs are truncated_audio', () => {
  const { wav } = toneWav({ sampleRate: 16000, channels: 2, float: false });
  assertAppError(() => decodeWav(wav.subarray(0, wav.length - 100)), 'truncated_audio', 'cut in data');
  assertAppError(() => decodeWav(wav.subarray(0, wav.length - 1)), 'truncated_audio', 'cut mid-frame');
  assertAppError(() => decodeWav(wav.subarray(0, 30)), 'truncated_audio', 'cut in fmt');
  assertAppError(() => decodeWav(wav.subarray(0, 40)), 'truncated_audio', 'cut in data header');
  assertAppError(() => decodeWav(wav.subarray(0, 12)), 'truncated_audio', 'only RIFF header');
  const streamedOdd = buildWav(new Uint8Array(6), { channels: 2, sampleRate: 16000, dataSize: 0xffffffff });
  assertAppError(() => decodeWav(streamedOdd), 'truncated_audio', 'streamed data ending mid-frame');
});

test('malformed headers are invalid_wav', () => {
  const data = new Uint8Array(8);
  const good = buildWav(data, { channels: 1, sampleRate: 16000 });
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['text', new TextEncoder().encode('hello, this is not a wav file at all')],
    ['RIFX', Uint8Array.from(good, (b, i) => (i === 3 ? 0x58 : b))],
    ['not WAVE', Uint8Array.from(good, (b, i) => (i === 8 ? 0x41 : b))],
    ['fmt too short', buildWav(data, { channels: 1, sampleRate: 16000, fmtSize: 14 })],
    ['block align', buildWav(data, { channels: 1, sampleRate: 16000, blockAlign: 4 })],
    ['zero channels', buildWav(data, { channels: 0, sampleRate: 16000, blockAlign: 2 })],
    ['no data chunk', good.subarray(0, 36)],
  ];
  // data chunk before fmt: swap by building manually
  const noFmt = new Uint8Array(good.length - 24);
  noFmt.set(good.subarray(0, 12), 0);
  noFmt.set(good.subarray(36), 12);
  new DataView(noFmt.buffer).setUint32(4, noFmt.length - 8, true);
  cases.push(['data without fmt', noFmt]);
  for (const [label, bytes] of cases) {
    const fixed = label === 'no data chunk' ? withRiffSize(bytes) : bytes;
    assertAppError(() => decodeWav(fixed), 'invalid_wav', label);
  }
});

function withRiffSize(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}

test('unsupported WAV formats are unsupported_audio_format', () => {
  const d = new Uint8Array(24);
  const cases: [string, Parameters<typeof buildWav>[1]][] = [
    ['8-bit', { channels: 1, sampleRate: 16000, bits: 8 }],
    ['24-bit', { channels: 1, sampleRate: 16000, bits: 24 }],
    ['32-bit int', { channels: 1, sampleRate: 16000, bits: 32 }],
    ['64-bit float', { channels: 1, sampleRate: 16000, bits: 64, formatTag: 3 }],
    ['A-law', { channels: 1, sampleRate: 8000, bits: 8, formatTag: 6 }],
    ['mu-law', { channels: 1, sampleRate: 8000, bits: 8, formatTag: 7 }],
    ['3 channels', { channels: 3, sampleRate: 16000 }],
    ['6 channels', { channels: 6, sampleRate: 48000 }],
    ['11025 Hz', { channels: 1, sampleRate: 11025 }],
    ['96000 Hz', { channels: 2, sampleRate: 96000 }],
    ['extensible 24-bit', { channels: 2, sampleRate: 48000, bits: 24, extensible: true }],
    ['extensible A-law', { channels: 1, sampleRate: 8000, bits: 8, extensible: true, subformat: 6 }],
  ];
  for (const [label, opts] of cases) {
    assertAppError(() => decodeWav(buildWav(d, opts)), 'unsupported_audio_format', label);
  }
});

test('non-finite samples in a float WAV are non_finite_samples', () => {
  const x = tone(16000, 0.01);
  x[5] = NaN;
  const wav = buildWav(encodePcm(x, 'pcm_f32le'), { channels: 1, sampleRate: 16000, bits: 32, formatTag: 3 });
  assertAppError(() => decodeWav(wav), 'non_finite_samples', 'NaN');
});

test('garbage and random cuts never crash: either decode or AppError', () => {
  const { wav } = toneWav({ sampleRate: 22050, channels: 2, float: true });
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 300; i++) {
    const bytes = wav.slice(0, Math.floor(rnd() * 200) + (i % 2 ? wav.length - 200 : 0));
    const flips = Math.floor(rnd() * 4);
    for (let f = 0; f < flips; f++)
      bytes[Math.floor(rnd() * Math.min(60, bytes.length))] = Math.floor(rnd() * 256);
    try {
      decodeWav(bytes);
    } catch (err) {
      assert.ok(AppError.isInstance(err), `case ${i}: non-AppError thrown: ${String(err)}`);
    }
  }
});
