// The fused audio preprocessor (port 6581): one streaming pass of resampling to 16 kHz, high-pass, noise
// suppression, gain control and VAD. Streams over a WebSocket (`GET /v1/audio/stream`: cleaned frames back as
// binary messages, VAD events as JSON) and publishes frames and events on the bus; whole files over
// `POST /v1/audio/process` (WAV in, cleaned 16 kHz WAV out, VAD segments in a header).
import { z } from 'zod';
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
import { encodePcmMono, encodeWav } from '../audio/encode.ts';
import { parseWav } from '../audio/wav.ts';
import type { PcmEncoding, PcmFormat } from '../audio/pcm.ts';
import type { VadEvent } from '../vad/detector.ts';
import {
  FusedPreprocessor,
  STAGE_NAMES,
  type FusedPreprocessorOptions,
  type PreprocessorStats,
  type StageSwitches,
} from '../preprocess/pipeline.ts';
import {
  audioBody,
  registerAudioBodies,
  registerWebsocket,
  serveAudioSocket,
  Slots,
  type StreamSession,
} from './audio-http.ts';
import {
  loadPreprocessorConfig,
  preprocessorSchema,
  vadConfigFrom,
  type PreprocessorServiceConfig,
} from './config.ts';
import { subjects, vadEventJson } from './subjects.ts';
import { vadOverrides } from './vad-service.ts';

const stageSwitches = z
  .object({
    highpass: z.boolean().optional(),
    denoise: z.boolean().optional(),
    agc: z.boolean().optional(),
    vad: z.boolean().optional(),
  })
  .strict();

const streamOptions = z
  .object({
    stages: stageSwitches.optional(),
    output_encoding: z.enum(['pcm_f32le', 'pcm_s16le', 'none']).optional(),
    vad: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

function parseOptions(raw: Record<string, unknown>): z.infer<typeof streamOptions> {
  const parsed = streamOptions.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw badRequest(
      'invalid_stream_options',
      `Invalid options: ${i ? `${i.path.join('.') || '(options)'}: ${i.message}` : ''}`,
    );
  }
  return parsed.data;
}

function pipelineOptions(
  config: PreprocessorServiceConfig,
  input: PcmFormat,
  stages: StageSwitches | undefined,
  vad: Record<string, unknown> | undefined,
): FusedPreprocessorOptions {
  return {
    input,
    stages: {
      highpass: config.PREPROCESS_HIGHPASS,
      denoise: config.PREPROCESS_DENOISE,
      agc: config.PREPROCESS_AGC,
      vad: config.PREPROCESS_VAD,
      ...stages,
    },
    highpassHz: config.PREPROCESS_HIGHPASS_HZ,
    agcTargetDbfs: config.PREPROCESS_AGC_TARGET_DBFS,
    agcMaxGainDb: config.PREPROCESS_AGC_MAX_GAIN_DB,
    vad: { ...vadConfigFrom(config), ...vadOverrides(vad ?? {}) },
  };
}

const bytesOf = (samples: Float32Array): Uint8Array =>
  new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);

export const preprocessorService: ServiceDefinition = {
  name: 'audio-preprocessor',
  port: 'audio-preprocessor',
  description:
    'Fused audio preprocessor: resample to 16 kHz, high-pass, RNNoise noise suppression, gain control and VAD in one streaming pass',
  config: preprocessorSchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadPreprocessorConfig(context.env);
    const name = 'audio-preprocessor';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    // Load the engines (RNNoise, Silero) and check the settings at start-up, not on the first stream.
    const probe = await FusedPreprocessor.create(
      pipelineOptions(
        config,
        { encoding: 'pcm_s16le', sampleRate: 16000, channels: 1 },
        undefined,
        undefined,
      ),
    );
    await probe.close();
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
      description:
        'Synthians fused audio preprocessor: cleaned 16 kHz frames and VAD events from any supported PCM/WAV input.',
      health: () => ({
        status: 'healthy',
        checks: { pipeline: { status: 'healthy' }, bus: { status: 'healthy', kind: bus.kind } },
        active_streams: slots.active,
        stages: {
          highpass: config.PREPROCESS_HIGHPASS,
          denoise: config.PREPROCESS_DENOISE,
          agc: config.PREPROCESS_AGC,
          vad: config.PREPROCESS_VAD,
        },
      }),
    });
    registerAudioBodies(app, config.MAX_AUDIO_BYTES);
    await registerWebsocket(app, config.MAX_AUDIO_BYTES);
    const stageSeconds = new Counter({
      name: 'preprocess_stage_seconds_total',
      help: 'Time spent in each preprocessing stage',
      labelNames: ['stage'],
      registers: [app.metricsRegistry],
    });
    const audioSeconds = new Counter({
      name: 'preprocess_audio_seconds_total',
      help: 'Seconds of input audio preprocessed',
      registers: [app.metricsRegistry],
    });
    const vadEvents = new Counter({
      name: 'preprocess_vad_events_total',
      help: 'VAD events from the preprocessor',
      labelNames: ['type'],
      registers: [app.metricsRegistry],
    });
    new Gauge({
      name: 'preprocess_active_streams',
      help: 'Open preprocessor streams',
      registers: [app.metricsRegistry],
      collect() {
        this.set(slots.active);
      },
    });
    for (const stage of STAGE_NAMES) stageSeconds.inc({ stage }, 0);

    /** Adds the stats accumulated since `last` to the counters; returns the new baseline. */
    const account = (p: FusedPreprocessor, last: PreprocessorStats | undefined): PreprocessorStats => {
      const now = p.stats();
      for (const stage of STAGE_NAMES) {
        const d = now.stages[stage].seconds - (last?.stages[stage].seconds ?? 0);
        if (d > 0) stageSeconds.inc({ stage }, d);
      }
      const a = now.audioSeconds - (last?.audioSeconds ?? 0);
      if (a > 0) audioSeconds.inc(a);
      return structuredClone(now);
    };

    const create = async (options: FusedPreprocessorOptions): Promise<FusedPreprocessor> => {
      try {
        return await FusedPreprocessor.create(options);
      } catch (err) {
        if (err instanceof RangeError) throw badRequest('invalid_stream_options', err.message);
        throw err;
      }
    };

    app.post(
      '/v1/audio/process',
      {
        schema: {
          summary:
            'Preprocesses a WAV file: cleaned 16 kHz mono WAV back; VAD segments in the X-VAD-Segments header (JSON)',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              highpass: { type: 'boolean' },
              denoise: { type: 'boolean' },
              agc: { type: 'boolean' },
              vad: { type: 'boolean' },
              encoding: { type: 'string', enum: ['pcm_s16le', 'pcm_f32le'] },
            },
          },
        },
      },
      async (request, reply) => {
        const body = audioBody(request.body);
        const info = parseWav(body);
        const q = request.query as StageSwitches & { encoding?: PcmEncoding };
        const stages: StageSwitches = {};
        for (const k of ['highpass', 'denoise', 'agc', 'vad'] as const)
          if (q[k] !== undefined) stages[k] = q[k];
        const p = await create(pipelineOptions(config, info.format, stages, undefined));
        try {
          const a = await p.push(body.subarray(info.dataOffset, info.dataOffset + info.dataLength));
          const b = await p.end();
          account(p, undefined);
          const samples = new Float32Array(a.samples.length + b.samples.length);
          samples.set(a.samples, 0);
          samples.set(b.samples, a.samples.length);
          const events = [...a.events, ...b.events];
          const segments: { start_ms: number; end_ms: number }[] = [];
          let start: number | undefined;
          for (const e of events) {
            vadEvents.inc({ type: e.type });
            if (e.type === 'speech_start') start = e.timestampMs;
            else if (start !== undefined) {
              segments.push({ start_ms: start, end_ms: e.timestampMs });
              start = undefined;
            }
          }
          return reply
            .header('content-type', 'audio/wav')
            .header('x-vad-segments', JSON.stringify(segments))
            .send(Buffer.from(encodeWav(samples, 16000, q.encoding ?? 'pcm_s16le')));
        } finally {
          await p.close();
        }
      },
    );

    app.get(
      '/v1/audio/stream',
      {
        websocket: true,
        schema: { summary: 'WebSocket: stream PCM in, cleaned 16 kHz frames and VAD events out', hide: true },
      },
      (socket) => {
        serveAudioSocket(socket, {
          idleTimeoutMs: config.STREAM_IDLE_TIMEOUT_MS,
          slots,
          onError: (err) => logger.error({ err }, 'preprocessor stream failed'),
          async start(start, send): Promise<StreamSession> {
            const opts = parseOptions(start.options);
            const p = await create(pipelineOptions(config, start.format, opts.stages, opts.vad));
            const out = opts.output_encoding ?? 'pcm_f32le';
            const id = start.streamId;
            let last: PreprocessorStats | undefined;
            const deliver = (samples: Float32Array, events: VadEvent[]) => {
              if (samples.length > 0) {
                if (out !== 'none')
                  send(out === 'pcm_f32le' ? bytesOf(samples) : encodePcmMono(samples, 'pcm_s16le'));
                if (config.PREPROCESS_PUBLISH)
                  bus.publish(subjects.audioFrames(id), bytesOf(samples.slice()));
              }
              for (const e of events) {
                const json = vadEventJson(e, id);
                send(json);
                if (config.PREPROCESS_PUBLISH) bus.publish(subjects.vadEvents(id), json);
                vadEvents.inc({ type: e.type });
              }
            };
            return {
              async push(chunk) {
                const r = await p.push(chunk);
                last = account(p, last);
                deliver(r.samples, r.events);
              },
              async end() {
                const r = await p.end();
                last = account(p, last);
                deliver(r.samples, r.events);
                if (config.PREPROCESS_PUBLISH) bus.publish(subjects.audioEnd(id), {});
              },
              async close() {
                await p.close();
              },
            };
          },
        });
      },
    );

    return {
      name,
      app,
      host,
      port,
      async close() {
        if (ownBus) await bus.close();
      },
    };
  },
};
