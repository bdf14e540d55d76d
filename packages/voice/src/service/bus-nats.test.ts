// Split mode over a real NATS server: the preprocessor (VAD stage off) publishes cleaned frames, the VAD agent
// (VAD_FROM_BUS) consumes them from NATS and publishes speech events back — two services, no shared memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createBus, startTestService, type Bus } from '@synthians/kit';
import { encodePcmMono } from '../audio/encode.ts';
import { concat, espeak, hasEspeak, silence } from '../testing/signals.ts';
import { preprocessorService } from './preprocessor-service.ts';
import { vadService } from './vad-service.ts';
import { subjects } from './subjects.ts';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

test(
  'preprocessor → NATS → VAD agent → NATS: speech events for a stream',
  { skip: hasEspeak ? false : 'espeak-ng is not installed' },
  async (t) => {
    let observer: Bus;
    try {
      observer = await createBus({ natsUrl: NATS_URL, name: 'voice-bus-test' });
    } catch (err) {
      if (process.env.CI) throw err;
      t.skip(`no NATS server at ${NATS_URL} (${String(err)})`);
      return;
    }
    const env = { NATS_URL };
    const vad = await startTestService(vadService, { env: { ...env, VAD_FROM_BUS: 'true' } });
    const pre = await startTestService(preprocessorService, { env: { ...env, PREPROCESS_VAD: 'false' } });
    try {
      const id = `t${randomUUID().slice(0, 8)}`;
      const events: Record<string, unknown>[] = [];
      let frameBytes = 0;
      observer.subscribe(subjects.vadEvents(id), (m) => {
        events.push(m.json());
      });
      observer.subscribe(subjects.audioFrames(id), (m) => {
        frameBytes += m.data.length;
      });
      await observer.flush();

      const speech = espeak('Turn off the lights in the living room please.');
      const audio = concat(silence(1), speech.samples, silence(1.5));
      const ws = new WebSocket(`${pre.url.replace('http', 'ws')}/v1/audio/stream`);
      const json: Record<string, unknown>[] = [];
      ws.on('message', (d, bin) => {
        if (!bin) json.push(JSON.parse(String(d)) as Record<string, unknown>);
      });
      const closed = new Promise<void>((r) => ws.on('close', () => r()));
      await new Promise((r) => ws.once('open', r));
      ws.send(
        JSON.stringify({
          type: 'start',
          format: { encoding: 'pcm_s16le', sample_rate: 16000, channels: 1 },
          stream_id: id,
          options: { output_encoding: 'none' },
        }),
      );
      while (!json.some((m) => m.type === 'ready')) await new Promise((r) => setTimeout(r, 5));
      const bytes = encodePcmMono(audio, 'pcm_s16le');
      for (let at = 0; at < bytes.length; at += 640) ws.send(bytes.subarray(at, at + 640));
      ws.send(JSON.stringify({ type: 'stop' }));
      await closed;
      assert.ok(!json.some((m) => m.type === 'speech_start'), 'the preprocessor itself ran no VAD');

      const t0 = Date.now();
      while (events.length < 2 && Date.now() - t0 < 15000) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        events.map((e) => [e.type, e.stream_id]),
        [
          ['speech_start', id],
          ['speech_end', id],
        ],
        `speech events from the VAD agent over NATS (got ${JSON.stringify(events)}; frames ${frameBytes / 4} of ${audio.length})`,
      );
      const start = events[0]!.timestamp_ms as number;
      const end = events[1]!.timestamp_ms as number;
      assert.ok(
        Math.abs(start - (1000 + speech.startMs)) < 300,
        `speech_start ${start} near ${1000 + speech.startMs}`,
      );
      assert.ok(Math.abs(end - (1000 + speech.endMs)) < 300, `speech_end ${end} near ${1000 + speech.endMs}`);
      assert.ok(
        Math.abs(frameBytes / 4 - audio.length) <= 4,
        `every cleaned sample crossed NATS (${frameBytes / 4} of ${audio.length})`,
      );
    } finally {
      await pre.destroy();
      await vad.destroy();
      await observer.close();
    }
  },
);
