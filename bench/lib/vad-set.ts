// Deterministic labelled audio set for the VAD benchmark (bench/vad.ts): espeak-ng speech in several voices,
// speeds and pitches; silence; white and pink noise bursts; music-like tones; speech under continuous noise at
// a given SNR. 16 kHz mono float32. Everything is drawn from one seeded generator, so the same flags give the
// same set; synthesised speech is cached under /tmp (keyed by text + voice parameters + espeak-ng version).
//
// Labelling rule (the ground truth the benchmark scores against):
// - Each utterance is one espeak-ng call (one sentence or short command). Its true speech interval runs from
//   the first to the last 10 ms block of the *clean* synthesised audio whose RMS is above -40 dBFS
//   (`espeak().startMs/endMs`), shifted by where the utterance is placed in the clip. Pauses inside an
//   utterance (between words, at commas; espeak-ng makes them well under the detector's 550 ms minimum
//   silence) count as speech: the labels are segment-level, like the detector's output.
// - Everything else is non-speech: silence, noise bursts, tones and melodies, and the continuous noise around
//   the speech in the noisy clips. The noise is added after labelling, so the labels do not depend on the SNR.
// - Utterances in a clip are separated by gaps of at least MIN_GAP_MS between their true intervals (long
//   enough that a correct segment-level VAD with a 550 ms minimum silence reports them separately).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  espeak,
  melody,
  speechBounds,
  pinkNoise,
  RATE,
  rms,
  rng,
  tone,
  whiteNoise,
  type EspeakOptions,
  type Speech,
} from '../../packages/voice/src/testing/signals.ts';

export const VOICES = ['en-us', 'en-gb', 'en-us+f3', 'en-us+m4', 'en-gb-scotland', 'en-us+f5'] as const;
export const SPEEDS = [130, 150, 175, 200, 225] as const;
export const PITCHES = [30, 40, 50, 60, 70] as const;
export const SNRS_DB = [5, 10, 15, 20] as const;
/** Smallest gap between the true intervals of two utterances in a clip. */
export const MIN_GAP_MS = 800;

export const SENTENCES: readonly string[] = [
  'Could you turn the lights off in the kitchen, please?',
  'What is the weather going to be like tomorrow morning?',
  'Remind me to call my sister at six o clock tonight.',
  'Play some quiet jazz in the living room.',
  'How many kilometres is it from Paris to Berlin?',
  'Set a timer for twelve minutes.',
  'I think we should leave a little earlier than planned.',
  'Add milk, eggs and a loaf of bread to the shopping list.',
  'The meeting has been moved to Thursday afternoon.',
  'Can you read me the last message from Daniel?',
  'Tell me a short story about a dragon who likes to bake.',
  'What did I say about the garden last week?',
  'Please lower the volume a bit.',
  'Who won the football match yesterday evening?',
  'My flight leaves from terminal two at half past nine.',
  'Turn the heating up to twenty one degrees.',
  'Translate good morning into Spanish.',
  'I would like to book a table for four people on Saturday.',
  'Open the garage door.',
  'How do you make a simple tomato sauce?',
  'Wake me up at seven tomorrow, but only if it is a weekday.',
  'The quick brown fox jumps over the lazy dog.',
  'She sells sea shells by the sea shore.',
  'Do you remember the name of that restaurant near the river?',
  'Call the plumber and ask whether he can come on Monday.',
  'What is the square root of one hundred and forty four?',
  'Lock the front door and switch on the porch light.',
  'I have been feeling a bit tired this week, to be honest.',
  'Skip this song.',
  'How long will it take to drive to the airport right now?',
  'Send a message to Anna saying I will be ten minutes late.',
  'Start the vacuum cleaner in the bedroom.',
  'Explain how a rainbow forms, in simple words.',
  'When is the next train to Manchester?',
  'Water the plants on the balcony every other day.',
  'What was the first thing I asked you this morning?',
  'Please write down that the car needs new tyres.',
  'Is it going to rain this weekend?',
  'Cancel my alarm for tomorrow.',
  'My favourite colour used to be green, but now it is blue.',
  'Read the news headlines, then play the radio.',
  'How much sugar goes into a chocolate cake?',
  'Check whether the dishwasher has finished.',
  'Let us try that again, a little slower this time.',
  'Which planets can be seen without a telescope?',
  'Note that the dentist appointment is on the fourteenth.',
  'Close the blinds in the office.',
  'Thank you, that was really helpful.',
  'Yes.',
  'No, thanks.',
  'Stop.',
  'Okay.',
  'Next one.',
  'Hello there.',
  'Good night.',
  'Pause the music.',
];

export type Condition = 'clean' | `snr${number}` | 'noise_burst' | 'music';
export type NoiseKind = 'white' | 'pink';

export interface Utterance {
  text: string;
  voice: string;
  speed: number;
  pitch: number;
  amplitude: number;
  /** True speech interval in ms of clip time. */
  startMs: number;
  endMs: number;
  /** Non-speech before / after the true interval (to the previous / next utterance or the clip edge). */
  silenceBeforeMs: number;
  silenceAfterMs: number;
}

/** A non-speech event placed in the clip (a noise burst, a tone or a melody). */
export interface Distractor {
  kind: 'white' | 'pink' | 'melody' | 'tone';
  startMs: number;
  endMs: number;
  rmsDbfs: number;
}

export interface Clip {
  id: string;
  condition: Condition;
  /** The clip's voice (speech clips) — every utterance of a clip uses it. */
  voice: string | undefined;
  /** Continuous background noise (noisy clips). */
  noise: NoiseKind | undefined;
  snrDb: number | undefined;
  samples: Float32Array;
  utterances: Utterance[];
  distractors: Distractor[];
}

export interface VadSetOptions {
  /** Approximate total audio length. */
  minutes: number;
  seed: number;
  /**
   * Level (dBFS RMS of a 10 ms block of the clean utterance) above which audio counts as speech for the true
   * bounds; default -40 (the level `espeak()` uses). Lower values give longer true intervals.
   */
  labelDbfs?: number;
  /** Cache directory for synthesised speech. */
  cacheDir?: string;
}

export interface VadSetStats {
  clips: number;
  utterances: number;
  distinct_sentences: number;
  audio_s: number;
  speech_s: number;
  espeak_calls: number;
  espeak_cache_hits: number;
}

const MS = RATE / 1000;
const dbToAmp = (db: number) => Math.pow(10, db / 20);
const ampToDb = (a: number) => 20 * Math.log10(Math.max(a, 1e-12));

class SpeechCache {
  calls = 0;
  hits = 0;
  private readonly dir: string;
  private readonly version: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.version = execFileSync('espeak-ng', ['--version'], { encoding: 'utf8' }).trim();
  }

  get(text: string, options: Required<EspeakOptions>): Speech {
    this.calls++;
    const key = createHash('sha256')
      .update(JSON.stringify({ v: this.version, text, ...options }))
      .digest('hex')
      .slice(0, 32);
    const bin = join(this.dir, `${key}.f32`);
    const meta = join(this.dir, `${key}.json`);
    if (existsSync(bin) && existsSync(meta)) {
      try {
        const m = JSON.parse(readFileSync(meta, 'utf8')) as { startMs: number; endMs: number };
        const buf = readFileSync(bin);
        const samples = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        this.hits++;
        return { samples, startMs: m.startMs, endMs: m.endMs };
      } catch {
        // Corrupt entry: synthesise again.
      }
    }
    const s = espeak(text, options);
    const tmp = `${bin}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(s.samples.buffer, s.samples.byteOffset, s.samples.byteLength));
    renameSync(tmp, bin);
    writeFileSync(`${meta}.${process.pid}.tmp`, JSON.stringify({ startMs: s.startMs, endMs: s.endMs }));
    renameSync(`${meta}.${process.pid}.tmp`, meta);
    return s;
  }
}

/** Builds a clip from timed parts: a piece of audio added at a sample offset. */
class ClipBuilder {
  private parts: { at: number; samples: Float32Array }[] = [];
  private cursor = 0;
  utterances: Utterance[] = [];
  distractors: Distractor[] = [];

  get cursorMs(): number {
    return this.cursor / MS;
  }

  /** Advances the cursor (silence, or room for something added with `addAt`). */
  skip(ms: number): void {
    this.cursor += Math.round(ms * MS);
  }

  addAt(at: number, samples: Float32Array): void {
    this.parts.push({ at, samples });
  }

  /** Places the utterance's true interval starting at the cursor; the cursor moves to its true end. */
  speech(s: Speech, u: Omit<Utterance, 'startMs' | 'endMs' | 'silenceBeforeMs' | 'silenceAfterMs'>): void {
    // Keep up to 100 ms of the (quiet, below -40 dBFS) audio around the bounds so the edges are natural.
    const from = Math.max(0, Math.round((s.startMs - 100) * MS));
    const to = Math.min(s.samples.length, Math.round((s.endMs + 100) * MS));
    const startAt = this.cursor;
    this.addAt(startAt - (Math.round(s.startMs * MS) - from), s.samples.subarray(from, to));
    const durMs = s.endMs - s.startMs;
    this.utterances.push({
      ...u,
      startMs: startAt / MS,
      endMs: startAt / MS + durMs,
      silenceBeforeMs: 0,
      silenceAfterMs: 0,
    });
    this.cursor += Math.round(durMs * MS);
  }

  /** A non-speech event starting at the cursor; the cursor moves to its end. */
  distractor(d: Omit<Distractor, 'startMs' | 'endMs'>, samples: Float32Array): void {
    this.addAt(this.cursor, samples);
    this.distractors.push({ ...d, startMs: this.cursor / MS, endMs: (this.cursor + samples.length) / MS });
    this.cursor += samples.length;
  }

  build(): Float32Array {
    const n = Math.max(this.cursor, ...this.parts.map((p) => p.at + p.samples.length));
    const out = new Float32Array(n);
    for (const p of this.parts) {
      for (let i = 0; i < p.samples.length; i++) {
        const j = p.at + i;
        if (j >= 0 && j < n) out[j]! += p.samples[i]!;
      }
    }
    const totalMs = n / MS;
    this.utterances.forEach((u, i) => {
      u.silenceBeforeMs = u.startMs - (this.utterances[i - 1]?.endMs ?? 0);
      u.silenceAfterMs = (this.utterances[i + 1]?.startMs ?? totalMs) - u.endMs;
    });
    return out;
  }
}

export function buildVadSet(opts: VadSetOptions): { clips: Clip[]; stats: VadSetStats } {
  const r = rng(opts.seed);
  const uniform = (a: number, b: number) => a + (b - a) * r();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const seed = () => Math.floor(r() * 2 ** 31);
  const labelDbfs = opts.labelDbfs ?? -40;
  const cache = new SpeechCache(opts.cacheDir ?? join(tmpdir(), 'synthians-bench-cache', 'espeak'));

  // Shuffled sentence order, cycled, so consecutive utterances differ and all sentences get used.
  const order = SENTENCES.map((s) => ({ s, k: r() })).sort((a, b) => a.k - b.k);
  let next = 0;
  const nextSentence = () => order[next++ % order.length]!.s;

  const noiseBurst = (kind: NoiseKind, seconds: number, rmsDb: number): Float32Array =>
    kind === 'white'
      ? whiteNoise(seconds, dbToAmp(rmsDb) * Math.sqrt(3), seed())
      : pinkNoise(seconds, dbToAmp(rmsDb), seed());
  // 20 ms raised-cosine fades so bursts do not start with a click.
  const fade = (x: Float32Array): Float32Array => {
    const n = Math.min(Math.round(20 * MS), Math.floor(x.length / 2));
    for (let i = 0; i < n; i++) {
      const g = 0.5 - 0.5 * Math.cos((Math.PI * i) / n);
      x[i]! *= g;
      x[x.length - 1 - i]! *= g;
    }
    return x;
  };
  const burst = (b: ClipBuilder) => {
    const kind: NoiseKind = r() < 0.5 ? 'white' : 'pink';
    const rmsDb = uniform(-55, -12);
    b.distractor({ kind, rmsDbfs: rmsDb }, fade(noiseBurst(kind, uniform(0.5, 3), rmsDb)));
  };
  const music = (b: ClipBuilder) => {
    const rmsDb = uniform(-40, -15);
    if (r() < 0.6) {
      const x = melody(uniform(1, 3), 1, seed());
      const g = dbToAmp(rmsDb) / (rms(x) || 1);
      b.distractor({ kind: 'melody', rmsDbfs: rmsDb }, fade(x.map((v) => v * g)));
    } else {
      const x = tone(
        uniform(0.5, 2.5),
        pick([110, 220, 440, 880, 1000, 2000, 3150]),
        dbToAmp(rmsDb) * Math.SQRT2,
      );
      b.distractor({ kind: 'tone', rmsDbfs: rmsDb }, fade(x));
    }
  };

  // Condition schedule: 40 % clean speech, 40 % noisy speech (10 % per SNR, white and pink alternating),
  // 12 % noise bursts, 8 % music-like, by audio time. Clips are about 10–20 s.
  const targetMs = opts.minutes * 60_000;
  const shares: [Condition, number][] = [
    ['clean', 0.4],
    ...SNRS_DB.map((s): [Condition, number] => [`snr${s}`, 0.1]),
    ['noise_burst', 0.12],
    ['music', 0.08],
  ];
  const doneMs = new Map<Condition, number>();
  const clips: Clip[] = [];
  let voiceTurn = 0;
  const noiseTurn = new Map<Condition, number>();
  let total = 0;
  while (total < targetMs) {
    // The condition furthest behind its share goes next.
    let cond = shares[0]![0];
    let worst = Infinity;
    for (const [c, share] of shares) {
      const ratio = (doneMs.get(c) ?? 0) / share;
      if (ratio < worst) {
        worst = ratio;
        cond = c;
      }
    }
    const b = new ClipBuilder();
    const lenMs = uniform(8_000, 16_000);
    let voice: string | undefined;
    let noise: NoiseKind | undefined;
    let snrDb: number | undefined;
    if (cond === 'noise_burst' || cond === 'music') {
      b.skip(uniform(300, 1500));
      while (b.cursorMs < lenMs) {
        if (cond === 'noise_burst') burst(b);
        else music(b);
        b.skip(uniform(300, 2000));
      }
    } else {
      voice = VOICES[voiceTurn++ % VOICES.length]!;
      const amplitude = pick([60, 80, 100, 120, 140]);
      if (cond !== 'clean') {
        snrDb = Number(cond.slice(3));
        // White and pink alternate within each SNR.
        const k = noiseTurn.get(cond) ?? 0;
        noiseTurn.set(cond, k + 1);
        noise = k % 2 === 0 ? 'white' : 'pink';
      }
      // Lead-in: silence, or (clean clips) a noise burst or tone with silence after it.
      if (cond === 'clean' && r() < 0.4) {
        b.skip(uniform(200, 800));
        if (r() < 0.6) burst(b);
        else music(b);
        b.skip(uniform(MIN_GAP_MS, 1500));
      } else {
        b.skip(uniform(1000, 2500));
      }
      for (;;) {
        const text = nextSentence();
        const speed = pick(SPEEDS);
        const pitch = pick(PITCHES);
        const raw = cache.get(text, { voice, speed, pitch, amplitude });
        const bounds = labelDbfs === -40 ? raw : speechBounds(raw.samples, dbToAmp(labelDbfs));
        if (!bounds) throw new Error(`no audio above ${labelDbfs} dBFS in ${JSON.stringify(text)}`);
        const s = { samples: raw.samples, startMs: bounds.startMs, endMs: bounds.endMs };
        b.speech(s, { text, voice, speed, pitch, amplitude });
        if (b.cursorMs >= lenMs) break;
        // Gap: plain silence, or (clean clips, long gaps) with a noise burst / tone in the middle.
        const gap = r() < 0.5 ? uniform(MIN_GAP_MS, 1400) : uniform(1400, 3000);
        if (cond === 'clean' && gap > 2200 && r() < 0.5) {
          const before = b.cursorMs;
          b.skip(400);
          if (r() < 0.6) burst(b);
          else music(b);
          b.skip(Math.max(400, gap - (b.cursorMs - before)));
        } else b.skip(gap);
      }
      b.skip(uniform(1200, 2500));
    }
    let samples = b.build();
    if (noise !== undefined && snrDb !== undefined) {
      // Continuous noise under the whole clip; SNR against the RMS of the speech inside the true intervals.
      let sum = 0;
      let count = 0;
      for (const u of b.utterances) {
        const seg = samples.subarray(Math.round(u.startMs * MS), Math.round(u.endMs * MS));
        sum += seg.reduce((a, v) => a + v * v, 0);
        count += seg.length;
      }
      const speechRms = Math.sqrt(sum / Math.max(1, count));
      const n = noiseBurst(noise, samples.length / RATE, ampToDb(speechRms / dbToAmp(snrDb)));
      samples = samples.map((v, i) => v + n[i]!);
    }
    for (let i = 0; i < samples.length; i++) samples[i] = Math.max(-1, Math.min(1, samples[i]!));
    const id = `${String(clips.length).padStart(3, '0')}-${cond}${noise ? `-${noise}` : ''}${voice ? `-${voice}` : ''}`;
    clips.push({
      id,
      condition: cond,
      voice,
      noise,
      snrDb,
      samples,
      utterances: b.utterances,
      distractors: b.distractors,
    });
    const ms = samples.length / MS;
    doneMs.set(cond, (doneMs.get(cond) ?? 0) + ms);
    total += ms;
  }
  const utterances = clips.flatMap((c) => c.utterances);
  return {
    clips,
    stats: {
      clips: clips.length,
      utterances: utterances.length,
      distinct_sentences: new Set(utterances.map((u) => u.text)).size,
      audio_s: Math.round(total) / 1000,
      speech_s: Math.round(utterances.reduce((a, u) => a + u.endMs - u.startMs, 0)) / 1000,
      espeak_calls: cache.calls,
      espeak_cache_hits: cache.hits,
    },
  };
}
