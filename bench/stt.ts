// Offline command recognition (pocketsphinx, JSGF grammar of the default commands) on speech synthesised by
// espeak-ng: every default command × voices × speeds, clean and (unless --no-noise) with pink noise at 20 dB
// SNR. Reports word error rate (edit distance), sentence accuracy, real-time factor (decoder wall time / audio
// time) and latency per utterance, overall and per condition. One JSON object on stdout, progress on stderr.
//
//   node --import tsx bench/stt.ts [--voices en-us,en-gb,en-us+f3] [--speeds 150,175,200] [--snr 20] [--no-noise]
import { DEFAULT_COMMANDS } from '../packages/voice/src/stt/commands.ts';
import { PocketsphinxStt } from '../packages/voice/src/stt/pocketsphinx.ts';
import { wordErrorRate, wordErrors } from '../packages/voice/src/stt/wer.ts';
import { espeak, hasEspeak, mixAtSnr, pinkNoise, RATE, rms } from '../packages/voice/src/testing/signals.ts';
import { boolFlag, emit, flag, intFlag, latencySummary, listFlag, log, machine, round } from './lib/util.ts';

const voices = (flag('voices') ?? 'en-us,en-gb,en-us+f3').split(',').map((v) => v.trim());
const speeds = listFlag('speeds', [150, 175, 200]);
const snrDb = intFlag('snr', 20);
const withNoise = !boolFlag('no-noise');

interface Row {
  voice: string;
  speed: number;
  noise: string;
  reference: string;
  hypothesis: string;
  audioMs: number;
  latencyMs: number;
}

function summarise(rows: Row[]) {
  const audioS = rows.reduce((s, r) => s + r.audioMs, 0) / 1000;
  const procS = rows.reduce((s, r) => s + r.latencyMs, 0) / 1000;
  return {
    utterances: rows.length,
    wer: round(wordErrorRate(rows), 4),
    sentence_accuracy: round(
      rows.filter((r) => r.hypothesis === r.reference).length / Math.max(1, rows.length),
      4,
    ),
    empty_answers: rows.filter((r) => r.hypothesis === '').length,
    audio_s: round(audioS, 2),
    rtf: round(procS / Math.max(audioS, 1e-9), 4),
    latency: latencySummary(rows.map((r) => r.latencyMs)),
  };
}

const groupBy = (rows: Row[], key: (r: Row) => string) => {
  const out: Record<string, ReturnType<typeof summarise>> = {};
  for (const k of [...new Set(rows.map(key))]) out[k] = summarise(rows.filter((r) => key(r) === k));
  return out;
};

async function main() {
  if (!hasEspeak) throw new Error('espeak-ng is not installed');
  const stt = new PocketsphinxStt();
  const health = await stt.check();
  if (!health.ok) throw new Error(`pocketsphinx not usable: ${health.detail}`);

  // Fixed cost of one decoder run (process start, model load) on 100 ms of silence.
  const startup: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await stt.transcribe(new Float32Array(RATE / 10));
    startup.push(performance.now() - t0);
  }

  const noise = pinkNoise(10, 0.1, 777);
  const conditions = withNoise ? ['clean', `pink_${snrDb}db`] : ['clean'];
  const rows: Row[] = [];
  const total = voices.length * speeds.length * conditions.length * DEFAULT_COMMANDS.length;
  for (const voice of voices) {
    for (const speed of speeds) {
      for (const reference of DEFAULT_COMMANDS) {
        const speech = espeak(reference, { voice, speed });
        // SNR against the speech part only (espeak's leading/trailing silence would inflate the noise).
        const active = speech.samples.subarray(
          Math.floor((speech.startMs / 1000) * RATE),
          Math.ceil((speech.endMs / 1000) * RATE),
        );
        for (const cond of conditions) {
          const samples =
            cond === 'clean' ? speech.samples : mixAtSnr(speech.samples, noise, snrDb, rms(active));
          const t0 = performance.now();
          const t = await stt.transcribe(samples);
          const latencyMs = performance.now() - t0;
          rows.push({
            voice,
            speed,
            noise: cond,
            reference,
            hypothesis: t.text,
            audioMs: (samples.length / RATE) * 1000,
            latencyMs,
          });
          if (rows.length % 20 === 0) log(`${rows.length}/${total} utterances`);
        }
      }
    }
  }
  await stt.close();

  const failures = rows
    .filter((r) => r.hypothesis !== r.reference)
    .map((r) => {
      const e = wordErrors(r.reference, r.hypothesis);
      return `${r.voice}@${r.speed} ${r.noise}: "${r.reference}" → "${r.hypothesis}" (S${e.substitutions} D${e.deletions} I${e.insertions})`;
    });
  const byPhrase: Record<string, number> = {};
  for (const r of rows)
    if (r.hypothesis !== r.reference) byPhrase[r.reference] = (byPhrase[r.reference] ?? 0) + 1;

  emit({
    benchmark: 'stt-pocketsphinx-commands',
    machine: machine(),
    setup: {
      engine: 'pocketsphinx_continuous 0.8+5prealpha, en-us model, JSGF grammar, -dither yes -seed 1',
      commands: DEFAULT_COMMANDS.length,
      voices,
      speeds_wpm: speeds,
      conditions,
      speech: 'espeak-ng, resampled to 16 kHz',
    },
    decoder_startup_ms: latencySummary(startup),
    overall: summarise(rows),
    by_condition: groupBy(rows, (r) => r.noise),
    by_voice: groupBy(rows, (r) => r.voice),
    by_speed: groupBy(rows, (r) => String(r.speed)),
    errors_by_phrase: Object.fromEntries(Object.entries(byPhrase).sort((a, b) => b[1] - a[1])),
    failures,
  });
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
