// Latency of one spoken turn over GET /v1/audio: the true end of the user's speech (last 10 ms block above -40 dBFS
// of the espeak-ng audio, as streamed at real time in 20 ms chunks by the test microphone) → the first TTS audio
// message at the client. Real stack in the main thread (memory core + neural memory + orchestrator, coordinator
// with PGlite), real Silero VAD + RNNoise, pocketsphinx with the assistant's command grammar, espeak-ng WASM TTS.
// The client (microphone and WebSocket) runs in a worker thread with its own event loop, as a separate client
// would: it is not held up by the server's synchronous work, and every client-side time is on the worker's clock.
// Wake word off (every segment is a turn); reply audio unpaced (tts.pace=false) so turns follow quickly — the first
// audio message is sent as soon as it is synthesised either way.
// Runs the defaults (TURN_EARLY_END_MS=250: a whole command ends the turn after 250 ms of silence; otherwise the
// VAD's 550 ms) and, for comparison, TURN_EARLY_END_MS=0 (always the VAD's 550 ms minimum silence).
// Prints one JSON object. Target: p50 ≤ 400 ms.
//
//   node --import tsx bench/assistant-voice.ts [--n 24] [--vad-only 1]   (--vad-only 0: only the default run)
import { rmSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { startStack } from '../packages/orchestrator/src/test-support.ts';
import { startCoordinator, tempDir } from '../packages/assistant/src/coordinator/test-support.ts';
import { AudioClient, Mic, RATE } from '../packages/assistant/src/audio/test-support.ts';
import { concat, espeak, silence } from '../packages/voice/src/testing/signals.ts';

const PHRASES = [
  'what time is it',
  'what is the date today',
  'thank you',
  'help',
  'hello',
  'cancel the timer',
];

type Row = Record<string, number | string>;
interface ClientResult {
  rows: Row[];
  recognised: number;
  missed: number;
  stalled: { turn: number; phrase: string; events: string[] }[];
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const r1 = (x: number) => Math.round(x * 10) / 10;
const stats = (xs: number[]) => ({
  count: xs.length,
  p50: r1(percentile(xs, 0.5)),
  p90: r1(percentile(xs, 0.9)),
  mean: r1(xs.reduce((s, x) => s + x, 0) / (xs.length || 1)),
});

/** The worker: speaks N + 2 phrases (2 warm-up) and measures each turn on its own clock. */
async function client(url: string, n: number): Promise<ClientResult> {
  const speech = new Map(PHRASES.map((p) => [p, espeak(p)]));
  const c = await AudioClient.connect(url);
  const rows: Row[] = [];
  let recognised = 0;
  let missed = 0;
  const stalled: ClientResult['stalled'] = [];
  try {
    await c.start({ user_id: 'bench', options: { wake_word: false, tts: { pace: false } } });
    const mic = new Mic(c);
    for (let i = 0; i < n + 2; i++) {
      const phrase = PHRASES[i % PHRASES.length] as string;
      const s = speech.get(phrase)!;
      const from = c.log.length;
      const { start } = mic.say(concat(silence(0.4), s.samples, silence(0.2)));
      const trueEnd = start + Math.round(((400 + s.endMs) * RATE) / 1000);
      const turn = await c
        .waitFor(
          (e) => e.type === 'turn' || (e.type === 'transcript' && e.final === true && e.text === ''),
          12000,
          from,
        )
        .catch(() => undefined);
      if (!turn) {
        stalled.push({
          turn: i,
          phrase,
          events: c.log.slice(from).flatMap((r) => (r.event ? [r.event.type] : [])),
        });
        continue;
      }
      // Wait for the segment's speech_end too, so the next phrase starts a new VAD segment.
      await c.waitFor((e) => e.type === 'vad' && e.event === 'speech_end', 5000, from).catch(() => undefined);
      if (turn.event?.type !== 'turn') {
        if (i >= 2) missed++;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const after = c.log.slice(from);
      const first = after.find((r) => r.audio);
      const trRx = after.find((r) => r.event?.type === 'transcript' && r.event.final === true);
      const replyRx = after.find((r) => r.event?.type === 'reply');
      await c.waitFor((e) => e.type === 'state' && e.state === 'listening', 10000, c.log.indexOf(turn));
      await new Promise((r) => setTimeout(r, 300));
      if (i < 2 || !first || !trRx || !replyRx) continue; // warm-up turns
      if (trRx.event?.text === phrase) recognised++;
      const t = turn.event?.timings as Record<string, number>;
      const endWall = mic.wallAt(trueEnd);
      rows.push({
        end_of_turn: String(trRx.event?.end_of_turn),
        end_to_first_audio_ms: first.at - endWall,
        wall_true_end_to_final_transcript_ms: trRx.at - endWall,
        wall_final_transcript_to_first_reply_ms: replyRx.at - trRx.at,
        wall_first_reply_to_first_audio_ms: first.at - replyRx.at,
        silence_waited_after_boundary_ms: t.vad_end_delay_ms ?? NaN,
        stt_wait_ms: t.stt_ms ?? NaN,
        engine_first_sentence_ms: t.engine_first_sentence_ms ?? NaN,
        tts_first_audio_ms: t.tts_first_audio_ms ?? NaN,
        server_end_of_turn_to_first_audio_ms: t.speech_end_to_first_audio_ms ?? NaN,
      });
    }
    await mic.stop();
  } finally {
    c.close();
  }
  return { rows, recognised, missed, stalled };
}

function summarise(settings: Record<string, string>, r: ClientResult) {
  const col = (k: string, rows = r.rows) => rows.map((x) => x[k] as number);
  const ends: Record<string, number> = {};
  for (const x of r.rows) ends[String(x.end_of_turn)] = (ends[String(x.end_of_turn)] ?? 0) + 1;
  const byEnd = Object.fromEntries(
    Object.keys(ends).map((k) => [
      k,
      stats(
        col(
          'end_to_first_audio_ms',
          r.rows.filter((x) => x.end_of_turn === k),
        ),
      ),
    ]),
  );
  return {
    settings,
    turns: r.rows.length,
    recognised_exactly: `${r.recognised}/${r.rows.length + r.missed}`,
    not_recognised_no_turn: r.missed,
    no_answer_within_12s: r.stalled,
    end_of_turn: ends,
    end_of_speech_to_first_audio_ms: stats(col('end_to_first_audio_ms')),
    by_end_of_turn: byEnd,
    wall_clock_chain_ms: {
      true_end_to_final_transcript: stats(col('wall_true_end_to_final_transcript_ms')),
      final_transcript_to_first_reply: stats(col('wall_final_transcript_to_first_reply_ms')),
      first_reply_to_first_audio: stats(col('wall_first_reply_to_first_audio_ms')),
    },
    server_ms: {
      silence_waited_after_end_of_speech: stats(col('silence_waited_after_boundary_ms')),
      stt_wait_after_end_of_turn: stats(col('stt_wait_ms')),
      turn_engine_first_sentence: stats(col('engine_first_sentence_ms')),
      tts_first_audio: stats(col('tts_first_audio_ms')),
      end_of_turn_to_first_audio_sent: stats(col('server_end_of_turn_to_first_audio_ms')),
    },
  };
}

if (!isMainThread) {
  const { url, n } = workerData as { url: string; n: number };
  parentPort!.postMessage(await client(url, n));
} else {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const N = arg('n', 24);
  const VAD_ONLY = arg('vad-only', 1);
  const stack = await startStack();
  const run = async (settings: Record<string, string>) => {
    const dir = tempDir();
    const c = await startCoordinator(
      { MEMORY_CORE_URL: stack.core.url, ORCHESTRATOR_URL: stack.orch.url, ...settings },
      { dir },
    );
    try {
      const worker = new Worker(
        // The TypeScript loader is registered in the worker before this file is imported there.
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`,
        { eval: true, workerData: { url: c.url, n: N } },
      );
      const result = await new Promise<ClientResult>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`client worker exited (${code})`)));
      });
      await worker.terminate();
      return summarise(settings, result);
    } finally {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const def = await run({});
    const vadOnly = VAD_ONLY ? await run({ TURN_EARLY_END_MS: '0' }) : undefined;
    console.log(
      JSON.stringify(
        {
          benchmark: 'assistant-voice',
          what: 'true end of user speech → first TTS audio message at the client (real-time 20 ms mic chunks, WebSocket, client in a worker thread)',
          stt: 'pocketsphinx (assistant command grammar)',
          tts: 'espeak-ng WASM, 16 kHz s16le',
          target_p50_ms: 400,
          defaults: def,
          vad_end_only: vadOnly,
          note:
            'defaults: TURN_EARLY_END_MS=250 — after 250 ms of silence the utterance is recognised and a whole command that no longer command extends ends the turn (end_of_turn "command"); otherwise the VAD speech_end after TURN_END_SILENCE_MS=550 does ("vad", reusing that recognition). vad_end_only: TURN_EARLY_END_MS=0. ' +
            'silence_waited_after_end_of_speech is measured from the refined end of speech the VAD reports (≈ true end + 10-30 ms); the preprocessor adds ~21 ms (RNNoise frame + resampler look-ahead) and the mic 20 ms chunking before the server sees the audio.',
        },
        null,
        2,
      ),
    );
  } finally {
    await stack.destroy();
  }
}
