// The PC2 worker's HTTP API.
//
//   POST /v1/tasks/{type}   type = embed | emotion | stt | tts | wakeword | vad (also as pc2.<type>, as the task
//                           router sends it); JSON in, JSON out; audio travels as base64 of a WAV file.
//   GET  /v1/tasks          the task types and the engine behind each
//   POST /v1/embeddings     OpenAI-compatible embeddings (a memory core's `openai` provider can point here)
//   GET  /v1/models         OpenAI-compatible model list, with load state
import { Type, type Static } from '@sinclair/typebox';
import { AppError, badRequest, type App } from '@synthians/kit';
import { decodeWav } from '@synthians/voice';
import { QueueFullError } from './batcher.ts';
import type { EmbedModels, EmotionModel, SpeechEngines } from './engines.ts';

export interface ApiContext {
  embed: EmbedModels;
  emotion: EmotionModel;
  speech: SpeechEngines;
  maxTexts: number;
  maxTextChars: number;
  onTask(type: string, outcome: 'ok' | 'error', ms: number): void;
}

const Texts = Type.Array(Type.String(), { minItems: 1, description: 'The texts, in order' });
const Audio = Type.String({
  minLength: 1,
  description: 'A WAV file, base64 (PCM 16-bit or float32, mono or stereo, 8–48 kHz)',
});
const ModelName = Type.String({ minLength: 1, maxLength: 200 });

const EmbedBody = Type.Object(
  {
    texts: Texts,
    model: Type.Optional(ModelName),
    encoding: Type.Optional(
      Type.Union([Type.Literal('float'), Type.Literal('base64')], {
        description: 'float (JSON numbers, default) or base64 (little-endian float32, ~6× smaller)',
      }),
    ),
  },
  { additionalProperties: false },
);
const EmotionBody = Type.Object({ texts: Texts }, { additionalProperties: false });
const SttBody = Type.Object(
  {
    audio_b64: Audio,
    language: Type.Optional(Type.String({ minLength: 1, maxLength: 20 })),
    prompt: Type.Optional(Type.String({ maxLength: 2000 })),
    phrases: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
        maxItems: 1000,
        description:
          'pocketsphinx: recognise exactly these phrases (a command grammar); other engines ignore it',
      }),
    ),
  },
  { additionalProperties: false },
);
const TtsBody = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 10_000 }),
    voice: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    sample_rate: Type.Optional(
      Type.Integer({ minimum: 8000, maximum: 48000, description: 'Output rate in Hz (default 16000)' }),
    ),
    speed: Type.Optional(Type.Number({ minimum: 0.25, maximum: 4 })),
  },
  { additionalProperties: false },
);
const WakeBody = Type.Object(
  {
    audio_b64: Audio,
    models: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, maxItems: 16 }),
    ),
  },
  { additionalProperties: false },
);
const VadBody = Type.Object(
  {
    audio_b64: Audio,
    threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 })),
    min_speech_ms: Type.Optional(Type.Number({ minimum: 0, maximum: 60000 })),
    min_silence_ms: Type.Optional(Type.Number({ minimum: 0, maximum: 60000 })),
  },
  { additionalProperties: false },
);

const TASKS = {
  embed: EmbedBody,
  emotion: EmotionBody,
  stt: SttBody,
  tts: TtsBody,
  wakeword: WakeBody,
  vad: VadBody,
} as const;
type TaskType = keyof typeof TASKS;

function checkTexts(texts: string[], ctx: ApiContext): void {
  if (texts.length > ctx.maxTexts)
    throw badRequest('too_many_texts', `${texts.length} texts; at most ${ctx.maxTexts} per request`, {
      max: ctx.maxTexts,
    });
  texts.forEach((t, i) => {
    if (t.length > ctx.maxTextChars)
      throw badRequest(
        'text_too_long',
        `texts[${i}] has ${t.length} characters; at most ${ctx.maxTextChars}`,
        {
          index: i,
          max: ctx.maxTextChars,
        },
      );
  });
}

/** A base64 WAV → 16 kHz mono samples; 400 for anything that is not a readable WAV. */
function audioFrom(b64: string): { samples: Float32Array; durationMs: number } {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
    throw badRequest('invalid_audio', 'audio_b64 is not base64');
  const audio = decodeWav(Buffer.from(b64, 'base64'));
  return { samples: audio.samples, durationMs: Math.round((audio.samples.length / 16000) * 1000) };
}

const toBase64 = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');

export function registerApi(app: App, ctx: ApiContext): void {
  const handlers: { [K in TaskType]: (body: Static<(typeof TASKS)[K]>) => Promise<unknown> } = {
    embed: async (body) => {
      checkTexts(body.texts, ctx);
      const model = await ctx.embed.get(body.model);
      const vectors = await model.batcher.submit(body.texts);
      return {
        model: model.id,
        dim: model.dim,
        vectors: body.encoding === 'base64' ? vectors.map(toBase64) : vectors.map((v) => Array.from(v)),
        encoding: body.encoding ?? 'float',
      };
    },
    emotion: async (body) => {
      checkTexts(body.texts, ctx);
      return { model: ctx.emotion.id, results: await ctx.emotion.classify(body.texts) };
    },
    stt: async (body) => {
      const { samples, durationMs } = audioFrom(body.audio_b64);
      const stt = ctx.speech.sttFor(body.phrases);
      const t = await ctx.speech.slots.run(() =>
        stt.transcribe(samples, { language: body.language, prompt: body.prompt }),
      );
      return {
        text: t.text,
        provider: t.provider,
        duration_ms: durationMs,
        ...(t.language ? { language: t.language } : {}),
        ...(t.confidence !== undefined ? { confidence: t.confidence } : {}),
      };
    },
    tts: async (body) => {
      const tts = ctx.speech.ttsEngine();
      const sampleRate = body.sample_rate ?? 16000;
      const sentences = await ctx.speech.slots.run(async () => {
        const out: {
          index: number;
          text: string;
          audio_b64: string;
          sample_rate: number;
          encoding: string;
        }[] = [];
        for await (const chunk of tts.synthesize(body.text, {
          voice: body.voice,
          sampleRate,
          speed: body.speed,
          encoding: 'pcm_s16le',
        })) {
          out.push({
            index: chunk.index,
            text: chunk.text,
            audio_b64: Buffer.from(chunk.audio).toString('base64'),
            sample_rate: chunk.sampleRate,
            encoding: chunk.encoding,
          });
        }
        return out;
      });
      return { provider: tts.name, sentences };
    },
    wakeword: async (body) => {
      const engine = await ctx.speech.wakeEngine();
      if (!engine)
        throw new AppError(503, 'wake_word_off', 'wake word detection is off (WAKE_WORD_MODELS=none)');
      const unknown = body.models?.filter((m) => !engine.models.includes(m)) ?? [];
      if (unknown.length > 0)
        throw badRequest('unknown_wake_word', `not loaded here: ${unknown.join(', ')}`, {
          models: engine.models,
        });
      const { samples, durationMs } = audioFrom(body.audio_b64);
      const detections = await ctx.speech.slots.run(async () => {
        const detector = await engine.create(body.models);
        try {
          const found: { name: string; score: number; timestamp_ms: number }[] = [];
          // Feed 80 ms chunks, as a stream would arrive.
          for (let i = 0; i < samples.length; i += 1280)
            for (const d of await detector.push(samples.subarray(i, Math.min(samples.length, i + 1280))))
              found.push({ name: d.name, score: d.score, timestamp_ms: Math.round(d.timestampMs) });
          return found;
        } finally {
          await detector.close();
        }
      });
      return { detections, duration_ms: durationMs, models: body.models ?? engine.models };
    },
    vad: async (body) => {
      const { samples, durationMs } = audioFrom(body.audio_b64);
      const overrides: Record<string, number> = {};
      if (body.threshold !== undefined) overrides.threshold = body.threshold;
      if (body.min_speech_ms !== undefined) overrides.minSpeechMs = body.min_speech_ms;
      if (body.min_silence_ms !== undefined) overrides.minSilenceMs = body.min_silence_ms;
      const segments = await ctx.speech.slots.run(() => ctx.speech.segments(samples, overrides));
      return { segments, duration_ms: durationMs };
    },
  };

  const run = async (type: TaskType, body: unknown, reply: { header(k: string, v: string): unknown }) => {
    const started = performance.now();
    try {
      const out = await (handlers[type] as (b: unknown) => Promise<unknown>)(body);
      ctx.onTask(type, 'ok', performance.now() - started);
      return out;
    } catch (err) {
      ctx.onTask(type, 'error', performance.now() - started);
      if (err instanceof QueueFullError) reply.header('retry-after', '1');
      throw err;
    }
  };

  for (const [type, schema] of Object.entries(TASKS) as [TaskType, (typeof TASKS)[TaskType]][]) {
    app.post(`/v1/tasks/${type}`, { schema: { summary: `Task ${type}`, body: schema } }, (request, reply) =>
      run(type, request.body, reply),
    );
    // The task router sends pc2.<type>.
    app.post(
      `/v1/tasks/pc2.${type}`,
      { schema: { summary: `Task ${type} (as the task router names it)`, body: schema, hide: true } },
      (request, reply) => run(type, request.body, reply),
    );
  }
  app.post('/v1/tasks/:type', { schema: { hide: true } }, (request) => {
    const { type } = request.params as { type: string };
    throw new AppError(404, 'unknown_task', `unknown task type ${JSON.stringify(type)}`, {
      types: Object.keys(TASKS),
    });
  });

  app.get('/v1/tasks', { schema: { summary: 'Task types and the engine behind each' } }, () => ({
    tasks: {
      embed: { models: ctx.embed.info() },
      emotion: { model: ctx.emotion.id, loaded: ctx.emotion.loaded },
      stt: { provider: ctx.speech.sttName },
      tts: { provider: ctx.speech.ttsName },
      wakeword: {},
      vad: { model: 'silero-vad-v5' },
    },
  }));

  // OpenAI-compatible embeddings.
  const OpenAIEmbedBody = Type.Object(
    {
      input: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })]),
      model: Type.Optional(ModelName),
      encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
      dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
      user: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  );
  app.post(
    '/v1/embeddings',
    { schema: { summary: 'OpenAI-compatible embeddings', body: OpenAIEmbedBody } },
    async (request, reply) => {
      const body = request.body as Static<typeof OpenAIEmbedBody>;
      const texts = typeof body.input === 'string' ? [body.input] : body.input;
      const started = performance.now();
      try {
        checkTexts(texts, ctx);
        const model = await ctx.embed.get(body.model);
        if (body.dimensions !== undefined && body.dimensions !== model.dim)
          throw badRequest('invalid_dimensions', `model ${model.id} gives ${model.dim} dimensions`, {
            dim: model.dim,
          });
        const vectors = await model.batcher.submit(texts);
        const tokens = model.countTokens(texts).reduce((a, b) => a + b, 0);
        ctx.onTask('embed', 'ok', performance.now() - started);
        return {
          object: 'list',
          model: model.id,
          data: vectors.map((v, index) => ({
            object: 'embedding',
            index,
            embedding: body.encoding_format === 'base64' ? toBase64(v) : Array.from(v),
          })),
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        };
      } catch (err) {
        ctx.onTask('embed', 'error', performance.now() - started);
        if (err instanceof QueueFullError) reply.header('retry-after', '1');
        throw err;
      }
    },
  );

  app.get('/v1/models', { schema: { summary: 'OpenAI-compatible model list' } }, () => ({
    object: 'list',
    data: [
      ...ctx.embed.info().map((m) => ({ ...m, object: 'model', owned_by: 'synthians' })),
      {
        id: ctx.emotion.id,
        object: 'model',
        owned_by: 'synthians',
        task: 'emotion',
        loaded: ctx.emotion.loaded,
      },
    ],
  }));
}
