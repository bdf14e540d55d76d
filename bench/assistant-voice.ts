// Latency of one spoken turn over GET /v1/audio: the true end of the user's speech (last 10 ms block above -40 dBFS
// of the espeak-ng audio, as streamed at real time in 20 ms chunks by the test microphone) → the first TTS audio
// message at the client. Real stack in this process (memory core + neural memory + orchestrator, coordinator with
// PGlite), real Silero VAD + RNNoise, pocketsphinx with the assistant's command grammar, espeak-ng WASM TTS.
// Wake word off (every segment is a turn); reply audio unpaced (tts.pace=false) so turns follow quickly — the first
// audio message is sent as soon as it is synthesised either way.
// Runs two end-of-turn settings: TURN_END_SILENCE_MS=550 (the VAD's default minimum silence) and a shorter one.
// Prints one JSON object. Target: p50 ≤ 400 ms.
//
//   node --import tsx bench/assistant-voice.ts [--n 24] [--short 300]   (--short 0: only the 550 ms run)
import { rmSync } from 'node:fs';
import { startStack } from '../packages/orchestrator/src/test-support.ts';
import { startCoordinator, tempDir } from '../packages/assistant/src/coordinator/test-support.ts';
import { AudioClient, Mic, RATE } from '../packages/assistant/src/audio/test-support.ts';
import { concat, espeak, silence } from '../packages/voice/src/testing/signals.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 24);
const SHORT = arg('short', 300);
const PHRASES = [
  'what time is it',
  'what is the date today',
  'thank you',
  'help',
  'hello',
  'cancel the timer',
];

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};
const r1 = (x: number) => Math.round(x * 10) / 10;
const stats = (xs: number[]) => ({
  p50: r1(percentile(xs, 0.5)),
  p90: r1(percentile(xs, 0.9)),
  mean: r1(xs.reduce((s, x) => s + x, 0) / (xs.length || 1)),
});

const speech = new Map(PHRASES.map((p) => [p, espeak(p)]));
const stack = await startStack();

async function run(silenceMs: number) {
  const dir = tempDir();
  const c = await startCoordinator(
    {
      MEMORY_CORE_URL: stack.core.url,
      ORCHESTRATOR_URL: stack.orch.url,
      TURN_END_SILENCE_MS: String(silenceMs),
    },
    { dir },
  );
  const client = await AudioClient.connect(c.url);
  const rows: Record<string, number>[] = [];
  let recognised = 0;
  let missed = 0;
  const stalled: { turn: number; phrase: string; events: string[] }[] = [];
  try {
    await client.start({ user_id: 'bench', options: { wake_word: false, tts: { pace: false } } });
    const mic = new Mic(client);
    for (let i = 0; i < N + 2; i++) {
      const phrase = PHRASES[i % PHRASES.length] as string;
      const s = speech.get(phrase)!;
      const from = client.log.length;
      const { start } = mic.say(concat(silence(0.4), s.samples, silence(0.2)));
      const trueEnd = start + Math.round(((400 + s.endMs) * RATE) / 1000);
      const turn = await client
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
          events: client.log.slice(from).flatMap((r) => (r.event ? [r.event.type] : [])),
        });
        continue;
      }
      if (turn.event?.type !== 'turn') {
        if (i >= 2) missed++;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const first = client.log.slice(from).find((r) => r.audio);
      const end = client.log
        .slice(from)
        .find((r) => r.event?.type === 'vad' && r.event.event === 'speech_end')?.event;
      const endRx = client.log
        .slice(from)
        .find((r) => r.event?.type === 'vad' && r.event.event === 'speech_end');
      const trRx = client.log
        .slice(from)
        .find((r) => r.event?.type === 'transcript' && r.event.final === true);
      const replyRx = client.log.slice(from).find((r) => r.event?.type === 'reply');
      const tr = trRx?.event;
      await client.waitFor(
        (e) => e.type === 'state' && e.state === 'listening',
        10000,
        client.log.indexOf(turn),
      );
      await new Promise((r) => setTimeout(r, 300));
      if (i < 2 || !first || !end || !endRx || !trRx || !replyRx) continue; // warm-up turns
      if (tr?.text === phrase) recognised++;
      const t = turn.event?.timings as Record<string, number>;
      // Wall-clock chain (one process, one clock): every step below adds up to end_to_first_audio_ms.
      const endWall = mic.wallAt(trueEnd);
      const decisionSample = Math.round((Number(end.detected_at_ms) * RATE) / 1000);
      const decisionWall = mic.wallAt(decisionSample);
      rows.push({
        end_to_first_audio_ms: first.at - endWall,
        wall_true_end_to_decision_audio_sent_ms: decisionWall - endWall,
        wall_decision_audio_sent_to_vad_event_ms: endRx.at - decisionWall,
        wall_vad_event_to_transcript_ms: trRx.at - endRx.at,
        wall_transcript_to_first_reply_ms: replyRx.at - trRx.at,
        wall_first_reply_to_first_audio_ms: first.at - replyRx.at,
        // The server sends the first audio speech_end_to_first_audio_ms after it emitted speech_end (≈ when the
        // client got that event); the rest is the client (same process) reading it late because the server's
        // synchronous work after the send (rest of the reply's synthesis, espeak-ng instance refill, PGlite store)
        // holds the event loop.
        wall_server_first_audio_sent_to_client_ms:
          first.at - endRx.at - (t.speech_end_to_first_audio_ms ?? NaN),
        vad_end_decision_ms: Number(end.detected_at_ms) - (trueEnd / RATE) * 1000,
        vad_end_after_its_boundary_ms: t.vad_end_delay_ms ?? NaN,
        stt_ms: t.stt_ms ?? NaN,
        engine_first_sentence_ms: t.engine_first_sentence_ms ?? NaN,
        tts_first_audio_ms: t.tts_first_audio_ms ?? NaN,
        server_speech_end_to_first_audio_ms: t.speech_end_to_first_audio_ms ?? NaN,
      });
    }
    await mic.stop();
  } finally {
    client.close();
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const col = (k: string) => rows.map((r) => r[k] as number);
  return {
    turn_end_silence_ms: silenceMs,
    turns: rows.length,
    recognised_exactly: `${recognised}/${rows.length + missed}`,
    not_recognised_no_turn: missed,
    no_answer_within_12s: stalled,
    end_of_speech_to_first_audio_ms: stats(col('end_to_first_audio_ms')),
    wall_clock_chain_ms: {
      true_end_to_decision_audio_sent: stats(col('wall_true_end_to_decision_audio_sent_ms')),
      decision_audio_sent_to_vad_event_at_client: stats(col('wall_decision_audio_sent_to_vad_event_ms')),
      vad_event_to_final_transcript: stats(col('wall_vad_event_to_transcript_ms')),
      final_transcript_to_first_reply: stats(col('wall_transcript_to_first_reply_ms')),
      first_reply_to_first_audio: stats(col('wall_first_reply_to_first_audio_ms')),
      of_which_server_first_audio_sent_to_client_read: stats(
        col('wall_server_first_audio_sent_to_client_ms'),
      ),
    },
    breakdown_ms: {
      vad_end_decision_after_true_end: stats(col('vad_end_decision_ms')),
      vad_end_after_its_own_boundary: stats(col('vad_end_after_its_boundary_ms')),
      stt: stats(col('stt_ms')),
      turn_engine_first_sentence: stats(col('engine_first_sentence_ms')),
      tts_first_audio: stats(col('tts_first_audio_ms')),
      server_speech_end_event_to_first_audio: stats(col('server_speech_end_to_first_audio_ms')),
    },
  };
}

try {
  const def = await run(550);
  const short = SHORT > 0 ? await run(SHORT) : undefined;
  console.log(
    JSON.stringify(
      {
        benchmark: 'assistant-voice',
        what: 'true end of user speech → first TTS audio message at the client (real-time 20 ms mic chunks, WebSocket)',
        stt: 'pocketsphinx (assistant command grammar)',
        tts: 'espeak-ng WASM, 16 kHz s16le',
        target_p50_ms: 400,
        vad_default_min_silence: def,
        coordinator_turn_end_silence: short,
        note:
          'vad_default_min_silence uses TURN_END_SILENCE_MS=550 (= the VAD default minimum silence); coordinator_turn_end_silence uses the shorter TURN_END_SILENCE_MS. The VAD end decision dominates. ' +
          'wall_clock_chain_ms adds up to end_of_speech_to_first_audio_ms: the VAD decision (stream time; its boundary is the refined end of speech, ≈ true end + 10-20 ms), the ~21 ms preprocessor delay (RNNoise 10 ms + its 10 ms frame + resampler look-ahead) plus 20 ms mic chunking before the speech_end event, then STT + turn engine + TTS on the server (server_speech_end_event_to_first_audio), then the time the client — in this same process — needs to read the first audio while the server finishes synchronous work (espeak-ng, PGlite). In a real deployment the client is another process and does not pay that last part.',
      },
      null,
      2,
    ),
  );
} finally {
  await stack.destroy();
}
