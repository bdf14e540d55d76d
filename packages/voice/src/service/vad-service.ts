// The VAD agent (port 6579): Silero VAD over HTTP (`POST /v1/vad/segments` with a WAV body), over a WebSocket
// stream (`GET /v1/vad/stream`, events as they happen) and, optionally, over the bus (16 kHz frames published by
// other services → events published back).
import { Type } from '@sinclair/typebox';
import {
  badRequest,
  createApp,
  createBus,
  type Bus,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { Counter, Gauge } from 'prom-client';
import { decodeWav } from '../audio/wav.ts';
import { PcmTo16k } from '../audio/pcm.ts';
import { VadDetector, type VadConfig, type VadEvent } from '../vad/detector.ts';
import type { SileroVad } from '../vad/silero.ts';
import {
  audioBody,
  registerAudioBodies,
  registerWebsocket,
  serveAudioSocket,
  SileroPool,
  Slots,
  type StreamSession,
} from './audio-http.ts';
import { loadVadConfig, vadConfigFrom, vadSchema } from './config.ts';
import { subjects, vadEventJson } from './subjects.ts';

/** Per-request / per-stream overrides of the VAD settings (validated like the configuration). */
export function vadOverrides(options: Record<string, unknown>): Partial<VadConfig> {
  const out: Partial<VadConfig> = {};
  const map: Record<string, keyof VadConfig> = {
    threshold: 'threshold',
    neg_threshold: 'negThreshold',
    min_speech_ms: 'minSpeechMs',
    min_silence_ms: 'minSilenceMs',
    prefix_padding_ms: 'prefixPaddingMs',
  };
  for (const [k, v] of Object.entries(options)) {
    const key = map[k];
    if (!key)
      throw badRequest(
        'invalid_vad_option',
        `Unknown VAD option ${JSON.stringify(k)}; known: ${Object.keys(map).join(', ')}`,
      );
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw badRequest('invalid_vad_option', `VAD option ${k} must be a finite number`);
    (out as Record<string, number>)[key] = v;
  }
  return out;
}

/** A detector with the service defaults plus overrides; RangeErrors from bad values become 400s. */
export function detectorFor(
  vad: SileroVad,
  base: Partial<VadConfig>,
  overrides: Partial<VadConfig>,
): VadDetector {
  try {
    return new VadDetector(vad, { ...base, ...overrides });
  } catch (err) {
    if (err instanceof RangeError) throw badRequest('invalid_vad_option', err.message);
    throw err;
  }
}

export const vadService: ServiceDefinition = {
  name: 'vad',
  port: 'vad',
  description:
    'VAD agent: Silero VAD v5 (onnxruntime-node) — WAV → speech segments, streaming speech_start/speech_end events',
  config: vadSchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadVadConfig(context.env);
    const name = 'vad';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    const base = vadConfigFrom(config);
    const pool = new SileroPool(config.MAX_STREAMS + 4);
    // Loads the model and fails at start-up (not on the first request) when the settings are inconsistent.
    const probe = await pool.acquire();
    try {
      detectorFor(probe, base, {});
    } finally {
      pool.release(probe);
    }
    const slots = new Slots(config.MAX_STREAMS);
    const ownBus = !context.bus;
    const bus: Bus =
      context.bus ??
      (await createBus({ natsUrl: config.NATS_URL, name, token: config.SYNTHIANS_API_TOKEN, logger }));

    const app = await createApp({
      ...http,
      service: name,
      logger,
      bodyLimit: config.MAX_BODY_BYTES,
      token: config.SYNTHIANS_API_TOKEN,
      description: 'Synthians VAD agent: Silero VAD v5 speech segments and streaming speech events.',
      health: () => ({
        status: 'healthy',
        checks: { silero: { status: 'healthy' }, bus: { status: 'healthy', kind: bus.kind } },
        active_streams: slots.active,
      }),
    });
    registerAudioBodies(app, config.MAX_AUDIO_BYTES);
    await registerWebsocket(app, config.MAX_AUDIO_BYTES);
    const audioSeconds = new Counter({
      name: 'vad_audio_seconds_total',
      help: 'Seconds of audio run through the VAD',
      labelNames: ['source'],
      registers: [app.metricsRegistry],
    });
    const eventCount = new Counter({
      name: 'vad_events_total',
      help: 'VAD events emitted',
      labelNames: ['type', 'source'],
      registers: [app.metricsRegistry],
    });
    const streamsGauge = new Gauge({
      name: 'vad_active_streams',
      help: 'Open VAD streams',
      registers: [app.metricsRegistry],
      collect() {
        this.set(slots.active);
      },
    });
    void streamsGauge;

    const segmentsQuery = Type.Object(
      {
        threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
        neg_threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
        min_speech_ms: Type.Optional(Type.Number({ minimum: 0, maximum: 60000 })),
        min_silence_ms: Type.Optional(Type.Number({ minimum: 0, maximum: 60000 })),
      },
      { additionalProperties: false },
    );
    app.post(
      '/v1/vad/segments',
      {
        schema: {
          summary: 'Speech segments of a WAV file (any supported rate/format; resampled to 16 kHz)',
          querystring: segmentsQuery,
          consumes: ['audio/wav', 'application/octet-stream'],
        },
      },
      async (request) => {
        const audio = decodeWav(audioBody(request.body));
        const vad = await pool.acquire();
        try {
          const detector = detectorFor(vad, base, vadOverrides(request.query as Record<string, unknown>));
          const segments = await detector.segments(audio.samples);
          audioSeconds.inc({ source: 'http' }, audio.samples.length / 16000);
          eventCount.inc({ type: 'speech_start', source: 'http' }, segments.length);
          eventCount.inc({ type: 'speech_end', source: 'http' }, segments.length);
          return {
            segments,
            duration_ms: Math.round((audio.samples.length / 16000) * 1000),
            source: {
              sample_rate: audio.source.sampleRate,
              channels: audio.source.channels,
              encoding: audio.source.encoding,
            },
          };
        } finally {
          pool.release(vad);
        }
      },
    );

    app.get(
      '/v1/vad/stream',
      {
        websocket: true,
        schema: { summary: 'WebSocket: stream PCM, receive speech_start / speech_end events', hide: true },
      },
      (socket) => {
        serveAudioSocket(socket, {
          idleTimeoutMs: config.STREAM_IDLE_TIMEOUT_MS,
          slots,
          onError: (err) => logger.error({ err }, 'VAD stream failed'),
          async start(start, send): Promise<StreamSession> {
            const vad = await pool.acquire();
            let detector: VadDetector;
            try {
              detector = detectorFor(vad, base, vadOverrides(start.options));
            } catch (err) {
              pool.release(vad);
              throw err;
            }
            const pcm = new PcmTo16k(start.format);
            const emit = (events: VadEvent[]) => {
              for (const e of events) {
                const json = vadEventJson(e, start.streamId);
                send(json);
                bus.publish(subjects.vadEvents(start.streamId), json);
                eventCount.inc({ type: e.type, source: 'websocket' });
              }
            };
            return {
              async push(chunk) {
                const samples = pcm.push(chunk);
                audioSeconds.inc({ source: 'websocket' }, samples.length / 16000);
                emit(await detector.push(samples));
              },
              async end() {
                const tail = pcm.end();
                emit(await detector.push(tail));
                emit(await detector.flush());
              },
              async close() {
                pool.release(vad);
              },
            };
          },
        });
      },
    );

    // Bus input: frames published by the preprocessor (or any producer) when VAD_FROM_BUS is on. One
    // subscription for frames and ends keeps their order (a stream's end never overtakes its last frames).
    interface BusStream {
      detector: VadDetector;
      vad: SileroVad;
      idle: NodeJS.Timeout;
    }
    const busStreams = new Map<string, BusStream>();
    const unsubscribes: (() => void)[] = [];
    const publishEvents = (id: string, events: VadEvent[]) => {
      for (const e of events) {
        bus.publish(subjects.vadEvents(id), vadEventJson(e, id));
        eventCount.inc({ type: e.type, source: 'bus' });
      }
    };
    const endBusStream = async (id: string) => {
      const s = busStreams.get(id);
      if (!s) return;
      busStreams.delete(id);
      clearTimeout(s.idle);
      try {
        publishEvents(id, await s.detector.flush());
      } finally {
        pool.release(s.vad);
      }
    };
    if (config.VAD_FROM_BUS) {
      unsubscribes.push(
        bus.subscribe('audio.>', async (msg) => {
          const id = subjects.streamOf(msg.subject);
          if (msg.subject === subjects.audioEnd(id)) {
            await endBusStream(id);
            return;
          }
          if (msg.subject !== subjects.audioFrames(id)) return;
          if (msg.data.length % 4 !== 0) {
            logger.warn({ stream: id }, 'bus audio frame is not float32 samples; dropped');
            return;
          }
          // A copy: a Buffer's slice() shares memory and may sit at an unaligned offset.
          const samples = new Float32Array(Uint8Array.from(msg.data).buffer);
          if (samples.some((v) => !Number.isFinite(v))) {
            logger.warn({ stream: id }, 'bus audio frame has non-finite samples; dropped');
            return;
          }
          let s = busStreams.get(id);
          if (!s) {
            if (busStreams.size >= config.MAX_STREAMS) {
              logger.warn({ stream: id }, 'bus stream refused: at MAX_STREAMS');
              return;
            }
            const vad = await pool.acquire();
            s = { vad, detector: new VadDetector(vad, base), idle: setTimeout(() => undefined, 0) };
            busStreams.set(id, s);
          }
          // A producer that vanishes without audio.end: the stream is closed after the idle timeout.
          clearTimeout(s.idle);
          s.idle = setTimeout(
            () =>
              void endBusStream(id).catch((err: unknown) =>
                logger.warn({ err }, 'closing idle bus stream failed'),
              ),
            config.STREAM_IDLE_TIMEOUT_MS,
          );
          s.idle.unref();
          audioSeconds.inc({ source: 'bus' }, samples.length / 16000);
          publishEvents(id, await s.detector.push(samples));
        }),
      );
    }

    return {
      name,
      app,
      host,
      port,
      async close() {
        for (const u of unsubscribes) u();
        for (const id of [...busStreams.keys()]) await endBusStream(id).catch(() => undefined);
        if (ownBus) await bus.close();
        await pool.close();
      },
    };
  },
};
