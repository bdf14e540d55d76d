// Benchmark of the fused audio preprocessor (@synthians/voice preprocess): CPU and wall time per second of
// audio for the full pass (decode + resample + high-pass + RNNoise + AGC + Silero VAD) on realistic audio
// (espeak-ng speech with pauses, mixed with pink noise at 10 dB SNR), for 16 kHz mono s16, 48 kHz stereo s16
// and 44.1 kHz stereo s16 input, streamed in 20 ms chunks. The 16 kHz pass is also run without denoising,
// to show what RNNoise costs. Prints ONE JSON object on stdout; progress goes to stderr.
//
//   node --import tsx bench/voice-preprocess.ts [--seconds 60] [--chunk-ms 20]
//
// core_fraction = process CPU seconds (user + system, all threads incl. onnxruntime) / audio seconds.
import { intFlag, log, machine, round } from './lib/util.ts';
import { Resampler } from '../packages/voice/src/audio/resample.ts';
import type { PcmFormat } from '../packages/voice/src/audio/pcm.ts';
import {
  closeIdleVads,
  FusedPreprocessor,
  loadRnnoise,
  STAGE_NAMES,
  type StageSwitches,
} from '../packages/voice/src/preprocess/index.ts';
import { concat, espeak, mixAtSnr, pinkNoise, silence } from '../packages/voice/src/testing/signals.ts';

const TARGET_CORE_FRACTION = 0.05;
const seconds = intFlag('seconds', 60);
const chunkMs = intFlag('chunk-ms', 20);

const SENTENCES = [
  'Turn on the lights in the kitchen and set them to fifty percent.',
  'What is the weather going to be like tomorrow morning in Berlin?',
  'Remind me to call my sister when I get home from work tonight.',
  'Play some quiet piano music in the living room, please.',
  'How long does it take to drive from Hamburg to Munich?',
  'Add eggs, milk and two loaves of bread to the shopping list.',
];
const VOICES = ['en-us', 'en-gb', 'en-us+f3', 'en-gb-scotland+m4'];

/** ~`total` seconds of 16 kHz mono: espeak-ng sentences with 0.5-1.5 s pauses, pink noise at 10 dB SNR. */
function buildAudio(total: number): Float32Array {
  const parts: Float32Array[] = [];
  const speech: Float32Array[] = [];
  let len = 0;
  for (let i = 0; len < total * 16000; i++) {
    const s = espeak(SENTENCES[i % SENTENCES.length]!, { voice: VOICES[i % VOICES.length]! }).samples;
    const pause = silence(0.5 + (i % 3) * 0.5);
    parts.push(s, pause);
    speech.push(s);
    len += s.length + pause.length;
  }
  const clean = concat(...parts).subarray(0, total * 16000);
  const speechRms = Math.sqrt(
    speech.reduce((a, s) => a + s.reduce((b, v) => b + v * v, 0), 0) /
      speech.reduce((a, s) => a + s.length, 0),
  );
  return mixAtSnr(clean, pinkNoise(total, 0.1, 77), 10, speechRms);
}

/** Mono 16 kHz -> `rate`, two channels with independent extra noise, interleaved s16le bytes. */
function toInput(mono16k: Float32Array, rate: number, channels: number): Uint8Array {
  let x = mono16k;
  if (rate !== 16000) {
    const r = new Resampler(16000, rate);
    x = concat(r.push(mono16k), r.flush());
  }
  const extra = Array.from({ length: channels }, (_, c) => pinkNoise(x.length / rate, 0.003, 900 + c, rate));
  const out = new Uint8Array(x.length * channels * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) {
    for (let c = 0; c < channels; c++) {
      const s = (x[i] ?? 0) + (extra[c]![i] ?? 0);
      v.setInt16((i * channels + c) * 2, Math.max(-32768, Math.min(32767, Math.round(s * 32768))), true);
    }
  }
  return out;
}

async function run(name: string, bytes: Uint8Array, input: PcmFormat, stages?: StageSwitches) {
  const p = await FusedPreprocessor.create({ input, ...(stages ? { stages } : {}) });
  const chunkBytes = Math.round((input.sampleRate * chunkMs) / 1000) * input.channels * 2;
  // Warm-up on the first 2 s (JIT, WASM tier-up, onnxruntime), not counted.
  const warm = await FusedPreprocessor.create({ input, ...(stages ? { stages } : {}) });
  for (let at = 0; at < Math.min(bytes.length, input.sampleRate * 2 * input.channels * 2); at += chunkBytes) {
    await warm.push(bytes.subarray(at, at + chunkBytes));
  }
  await warm.end();
  await warm.close();
  let events = 0;
  let outSamples = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let at = 0; at < bytes.length; at += chunkBytes) {
    const r = await p.push(bytes.subarray(at, at + chunkBytes));
    events += r.events.length;
    outSamples += r.samples.length;
  }
  const last = await p.end();
  events += last.events.length;
  outSamples += last.samples.length;
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const st = p.stats();
  await p.close();
  const audio = st.audioSeconds;
  const perStage = Object.fromEntries(
    STAGE_NAMES.map((n) => [
      n,
      {
        seconds: round(st.stages[n].seconds, 3),
        per_audio_second_ms: round((st.stages[n].seconds / audio) * 1000, 2),
      },
    ]),
  );
  const result = {
    input: `${input.sampleRate} Hz ${input.channels === 1 ? 'mono' : 'stereo'} ${input.encoding}`,
    stages: p.stages,
    audio_seconds: round(audio, 2),
    output_samples: outSamples,
    vad_events: events,
    cpu_seconds: round(cpuSeconds, 3),
    wall_seconds: round(wall, 3),
    core_fraction: round(cpuSeconds / audio, 4),
    wall_fraction: round(wall / audio, 4),
    cpu_ms_per_audio_second: round((cpuSeconds / audio) * 1000, 2),
    latency_ms: round(p.latencyMs, 2),
    per_stage: perStage,
  };
  log(name, `core_fraction ${result.core_fraction}`, `wall_fraction ${result.wall_fraction}`);
  return result;
}

async function main() {
  log(`building ${seconds} s of espeak-ng speech in pink noise`);
  const mono = buildAudio(seconds);
  const rnnoise = await loadRnnoise();
  const s16 = 'pcm_s16le' as const;
  const r16 = await run('16k mono full', toInput(mono, 16000, 1), {
    encoding: s16,
    sampleRate: 16000,
    channels: 1,
  });
  const r48 = await run('48k stereo full', toInput(mono, 48000, 2), {
    encoding: s16,
    sampleRate: 48000,
    channels: 2,
  });
  const r44 = await run('44.1k stereo full', toInput(mono, 44100, 2), {
    encoding: s16,
    sampleRate: 44100,
    channels: 2,
  });
  const r16nd = await run(
    '16k mono without denoise',
    toInput(mono, 16000, 1),
    {
      encoding: s16,
      sampleRate: 16000,
      channels: 1,
    },
    { denoise: false },
  );
  await closeIdleVads();
  const out = {
    benchmark: 'voice-preprocess',
    machine: machine(),
    audio: {
      seconds,
      chunk_ms: chunkMs,
      content: 'espeak-ng sentences, 0.5-1.5 s pauses, pink noise at 10 dB SNR',
    },
    rnnoise: {
      package: '@sapphi-red/web-noise-suppressor',
      build: rnnoise.simd ? 'rnnoise_simd.wasm' : 'rnnoise.wasm',
    },
    target: { core_fraction_max: TARGET_CORE_FRACTION, input: '16 kHz mono, all stages' },
    core_fraction: r16.core_fraction,
    target_met: r16.core_fraction <= TARGET_CORE_FRACTION,
    runs: { in16k_mono: r16, in48k_stereo: r48, in44k1_stereo: r44, in16k_mono_no_denoise: r16nd },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
