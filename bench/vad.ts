// VAD benchmark: runs the streaming VadDetector (default, LiveKit-like settings) over a deterministic labelled
// set (bench/lib/vad-set.ts: espeak-ng speech in six voices, clean and under white/pink noise at 5–20 dB SNR,
// noise bursts, tones and melodies) and prints one JSON object on stdout (progress on stderr).
//
//   node --import tsx bench/vad.ts [--minutes 10] [--seed 1] [--chunk-ms 20] [--label-dbfs -40]
//                                  [--vad minSilenceMs=400,threshold=0.5]   (investigation only)
//
// Each clip is streamed like a live microphone: `push` in chunk-ms pieces, then `flush`. Predicted speech
// intervals are speech_start.timestampMs → speech_end.timestampMs (segment bounds, not decision times).
// Metrics:
// - frame level (10 ms frames, a frame is speech when its centre lies in an interval): precision, recall, F1
//   overall, per condition (clean, snrN, noise_burst, music), per SNR and noise colour, per voice;
// - false segments: predicted intervals overlapping no true speech; noise bursts / tones / melodies hit by one;
//   the fraction of noise-burst and music clips with any false segment;
// - end-of-speech latency: speech_end.detectedAtMs − true end, for utterances followed by >= 1 s of non-speech;
//   start latency: speech_start.detectedAtMs − true start, for utterances preceded by >= 1 s of non-speech;
//   also the boundary errors (timestampMs − truth);
// - real-time factor: VAD processing time / audio time.
import {
  DEFAULT_VAD_CONFIG,
  SileroVad,
  VadDetector,
  type VadConfig,
  type VadEvent,
} from '../packages/voice/src/vad/index.ts';
import { RATE } from '../packages/voice/src/testing/signals.ts';
import { buildVadSet, type Clip, type Utterance } from './lib/vad-set.ts';
import { emit, flag, intFlag, latencySummary, log, machine, round } from './lib/util.ts';

const FRAME_MS = 10;
const ISOLATION_MS = 1000;
// Utterances whose latency exceeds these are listed (for analysis).
const START_OUTLIER_MS = 500;
const END_OUTLIER_MS = 850;

interface Segment {
  startMs: number;
  endMs: number;
  start: VadEvent;
  end: VadEvent;
  /** Closed by `flush` (speech still open at the end of the clip). */
  byFlush: boolean;
}

interface Counts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

const emptyCounts = (): Counts => ({ tp: 0, fp: 0, fn: 0, tn: 0 });

function prf(c: Counts) {
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : NaN;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN;
  const r3 = (x: number) => (Number.isNaN(x) ? null : round(x, 3));
  return {
    precision: r3(precision),
    recall: r3(recall),
    f1: r3(f1),
    speech_s: round(((c.tp + c.fn) * FRAME_MS) / 1000, 1),
    false_speech_s: round((c.fp * FRAME_MS) / 1000, 1),
    missed_speech_s: round((c.fn * FRAME_MS) / 1000, 1),
    non_speech_s: round(((c.fp + c.tn) * FRAME_MS) / 1000, 1),
  };
}

const overlaps = (a: { startMs: number; endMs: number }, b: { startMs: number; endMs: number }) =>
  a.startMs < b.endMs && b.startMs < a.endMs;

function inAny(t: number, xs: { startMs: number; endMs: number }[]): boolean {
  for (const x of xs) if (t >= x.startMs && t < x.endMs) return true;
  return false;
}

async function runClip(
  detector: VadDetector,
  clip: Clip,
  chunk: number,
): Promise<{ segments: Segment[]; ms: number }> {
  const events: VadEvent[] = [];
  const t0 = performance.now();
  for (let at = 0; at < clip.samples.length; at += chunk)
    events.push(...(await detector.push(clip.samples.subarray(at, at + chunk))));
  const flushed = await detector.flush();
  const ms = performance.now() - t0;
  const segments: Segment[] = [];
  let open: VadEvent | undefined;
  for (const e of [...events, ...flushed]) {
    if (e.type === 'speech_start') open = e;
    else if (open) {
      segments.push({
        startMs: open.timestampMs,
        endMs: e.timestampMs,
        start: open,
        end: e,
        byFlush: flushed.includes(e),
      });
      open = undefined;
    }
  }
  return { segments, ms };
}

async function main(): Promise<void> {
  const minutes = Number(flag('minutes') ?? 10);
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number`);
  const seed = intFlag('seed', 1);
  const chunkMs = intFlag('chunk-ms', 20);
  const chunk = (chunkMs * RATE) / 1000;
  const labelDbfs = Number(flag('label-dbfs') ?? -40);
  if (!Number.isFinite(labelDbfs)) throw new Error('--label-dbfs must be a number');
  // Overrides for investigation only (the reported targets are for the defaults): --vad minSilenceMs=400,...
  const overrides: Partial<Record<keyof VadConfig, number>> = {};
  for (const kv of (flag('vad') ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (!k || !(k in DEFAULT_VAD_CONFIG) || !Number.isFinite(Number(v)))
      throw new Error(`--vad takes key=number pairs of VadConfig fields, got ${kv}`);
    overrides[k as keyof VadConfig] = Number(v);
  }

  log(`building the labelled set (${minutes} min, seed ${seed})`);
  const tb = performance.now();
  const { clips, stats } = buildVadSet({ minutes, seed, labelDbfs });
  log(
    `set: ${stats.clips} clips, ${stats.utterances} utterances, ${stats.audio_s} s audio ` +
      `(${stats.espeak_cache_hits}/${stats.espeak_calls} speech from cache) in ${round((performance.now() - tb) / 1000, 1)} s`,
  );

  const vad = await SileroVad.create();
  const detector = new VadDetector(vad, overrides);

  const byCond = new Map<string, Counts>();
  const bySnrNoise = new Map<string, Counts>();
  const byVoice = new Map<string, Counts>();
  const overall = emptyCounts();
  const speechOverall = emptyCounts();
  const add = (m: Map<string, Counts>, k: string, c: Counts) => {
    const t = m.get(k) ?? emptyCounts();
    t.tp += c.tp;
    t.fp += c.fp;
    t.fn += c.fn;
    t.tn += c.tn;
    m.set(k, t);
  };

  const endLat: number[] = [];
  const endErr: number[] = [];
  const endDecision: number[] = [];
  const startLat: number[] = [];
  const startErr: number[] = [];
  const endLatByCond = new Map<string, number[]>();
  let endByFlush = 0;
  let endMerged = 0;
  let startMerged = 0;
  const missed: Record<string, unknown>[] = [];
  const outliers: Record<string, unknown>[] = [];
  const describe = (clip: Clip, u: Utterance) => ({
    clip: clip.id,
    text: u.text,
    speed: u.speed,
    pitch: u.pitch,
    amplitude: u.amplitude,
    duration_ms: round(u.endMs - u.startMs),
  });
  let mergedUtterances = 0;
  let falseSegments = 0;
  const falseByCond = new Map<string, number>();
  const nonSpeechClips = {
    noise_burst: { clips: 0, with_false_segment: 0 },
    music: { clips: 0, with_false_segment: 0 },
  };
  const distractorHits = {
    noise: { count: 0, flagged: 0 },
    tone_or_melody: { count: 0, flagged: 0 },
  };
  const perClip: {
    id: string;
    f1: number | null;
    recall: number | null;
    false_s: number;
    segs: number;
    utts: number;
  }[] = [];
  let vadMs = 0;
  let audioMs = 0;

  for (const [ci, clip] of clips.entries()) {
    const { segments, ms } = await runClip(detector, clip, chunk);
    vadMs += ms;
    const clipMs = (clip.samples.length / RATE) * 1000;
    audioMs += clipMs;
    const utts: Utterance[] = clip.utterances;

    // Frames.
    const c = emptyCounts();
    const frames = Math.floor(clipMs / FRAME_MS);
    for (let f = 0; f < frames; f++) {
      const t = f * FRAME_MS + FRAME_MS / 2;
      const truth = inAny(t, utts);
      const pred = inAny(t, segments);
      if (truth && pred) c.tp++;
      else if (pred) c.fp++;
      else if (truth) c.fn++;
      else c.tn++;
    }
    for (const k of ['tp', 'fp', 'fn', 'tn'] as const) overall[k] += c[k];
    add(byCond, clip.condition, c);
    if (clip.voice) {
      for (const k of ['tp', 'fp', 'fn', 'tn'] as const) speechOverall[k] += c[k];
      add(byVoice, clip.voice, c);
    }
    if (clip.noise) add(bySnrNoise, `${clip.condition}_${clip.noise}`, c);
    const pc = prf(c);
    perClip.push({
      id: clip.id,
      f1: pc.f1,
      recall: pc.recall,
      false_s: pc.false_speech_s,
      segs: segments.length,
      utts: utts.length,
    });

    // False segments and distractors.
    let clipFalse = 0;
    for (const s of segments) {
      if (!utts.some((u) => overlaps(s, u))) {
        clipFalse++;
        falseSegments++;
      }
    }
    falseByCond.set(clip.condition, (falseByCond.get(clip.condition) ?? 0) + clipFalse);
    if (clip.condition === 'noise_burst' || clip.condition === 'music') {
      nonSpeechClips[clip.condition].clips++;
      if (clipFalse > 0) nonSpeechClips[clip.condition].with_false_segment++;
    }
    for (const d of clip.distractors) {
      const bucket =
        d.kind === 'white' || d.kind === 'pink' ? distractorHits.noise : distractorHits.tone_or_melody;
      bucket.count++;
      if (segments.some((s) => overlaps(s, d) && !utts.some((u) => overlaps(s, u)))) bucket.flagged++;
    }

    // Utterance level: detection, merging, latencies.
    utts.forEach((u, i) => {
      const hit = segments.filter((s) => overlaps(s, u));
      if (hit.length === 0) {
        missed.push(describe(clip, u));
        return;
      }
      const prev = utts[i - 1];
      const next = utts[i + 1];
      const first = hit[0]!;
      const last = hit[hit.length - 1]!;
      if (next && overlaps(last, next)) mergedUtterances++;
      if (u.silenceBeforeMs >= ISOLATION_MS) {
        if (prev && overlaps(first, prev)) startMerged++;
        else {
          const lat = first.start.detectedAtMs - u.startMs;
          if (lat > START_OUTLIER_MS)
            outliers.push({ kind: 'start', latency_ms: round(lat), ...describe(clip, u) });
          startLat.push(lat);
          startErr.push(first.startMs - u.startMs);
        }
      }
      if (u.silenceAfterMs >= ISOLATION_MS) {
        if (next && overlaps(last, next)) endMerged++;
        else {
          const lat = last.end.detectedAtMs - u.endMs;
          if (last.byFlush) endByFlush++;
          if (lat > END_OUTLIER_MS)
            outliers.push({ kind: 'end', latency_ms: round(lat), ...describe(clip, u) });
          endLat.push(lat);
          endErr.push(last.endMs - u.endMs);
          endDecision.push(last.end.detectedAtMs - last.end.timestampMs);
          const l = endLatByCond.get(clip.condition) ?? [];
          l.push(lat);
          endLatByCond.set(clip.condition, l);
        }
      }
    });
    if ((ci + 1) % 10 === 0 || ci === clips.length - 1)
      log(`${ci + 1}/${clips.length} clips, F1 so far ${prf(overall).f1}, RTF ${round(vadMs / audioMs, 4)}`);
  }
  await vad.close();

  const total = prf(overall);
  const endSummary = latencySummary(endLat);
  const targets = { f1_min: 0.9, end_latency_p50_max_ms: 600 };
  const mapOut = (m: Map<string, Counts>) =>
    Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, prf(v)]));
  const noiseFlagged = nonSpeechClips.noise_burst.with_false_segment;

  emit({
    benchmark: 'vad',
    machine: machine(),
    config: {
      ...detector.config,
      overrides,
      minutes,
      label_dbfs: labelDbfs,
      seed,
      chunk_ms: chunkMs,
      frame_ms: FRAME_MS,
      isolation_ms: ISOLATION_MS,
    },
    set: stats,
    frame_level: {
      overall: total,
      speech_clips: prf(speechOverall),
      by_condition: mapOut(byCond),
      by_snr_noise: mapOut(bySnrNoise),
      by_voice: mapOut(byVoice),
    },
    false_segments: {
      total: falseSegments,
      by_condition: Object.fromEntries(falseByCond),
      non_speech_clips: {
        noise_burst: {
          ...nonSpeechClips.noise_burst,
          fraction: round(noiseFlagged / Math.max(1, nonSpeechClips.noise_burst.clips), 3),
        },
        music: {
          ...nonSpeechClips.music,
          fraction: round(
            nonSpeechClips.music.with_false_segment / Math.max(1, nonSpeechClips.music.clips),
            3,
          ),
        },
      },
      distractors_flagged: distractorHits,
    },
    utterances: {
      total: stats.utterances,
      missed: missed.length,
      merged_with_next: mergedUtterances,
      missed_list: missed.slice(0, 20),
    },
    end_latency: {
      ...endSummary,
      closed_by_flush: endByFlush,
      merged_skipped: endMerged,
      by_condition: Object.fromEntries([...endLatByCond.entries()].map(([k, v]) => [k, latencySummary(v)])),
      // latency = boundary_error (speech_end boundary − true end) + decision_delay (silence waited for).
      boundary_error: latencySummary(endErr),
      decision_delay: latencySummary(endDecision),
    },
    start_latency: {
      ...latencySummary(startLat),
      merged_skipped: startMerged,
      boundary_error: latencySummary(startErr),
    },
    latency_outliers: outliers.slice(0, 12),
    worst_clips: perClip
      .filter((p) => p.utts > 0)
      .sort((a, b) => (a.f1 ?? 0) - (b.f1 ?? 0))
      .slice(0, 8),
    real_time_factor: round(vadMs / audioMs, 4),
    vad_ms_per_window: round(vadMs / (audioMs / DEFAULT_VAD_CONFIG.windowMs), 3),
    targets,
    target_met: {
      f1: (total.f1 ?? 0) >= targets.f1_min,
      end_latency_p50: endSummary.p50_ms <= targets.end_latency_p50_max_ms,
      noise_bursts_not_flagged: noiseFlagged === 0 && distractorHits.noise.flagged === 0,
    },
  });
}

main().catch((e: unknown) => {
  log(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
