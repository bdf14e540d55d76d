// The PC2 ML worker (port 5560) on the kit: the heavy models behind one task API, batched and bounded.
import { join } from 'node:path';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  createApp,
  type HealthReport,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { registerApi } from './api.ts';
import { loadPc2Config, pc2Schema } from './config.ts';
import { EmbedModels, EmotionModel, SpeechEngines } from './engines.ts';

export const pc2Service: ServiceDefinition = {
  name: 'pc2',
  port: 'pc2',
  description:
    'PC2 ML worker: embeddings, emotion, speech to text, text to speech, wake word and VAD behind one task API (ONNX on CPU or CUDA), batched, with a bounded queue',
  config: pc2Schema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadPc2Config(context.env);
    const name = 'pc2';
    const { logger, host, port, http } = serviceSetup(context, name, config);
    const modelsDir = config.SYNTHIANS_MODELS_DIR ?? join(context.dataDir, 'models');
    const runs: { model: string; size: number; ms: number }[] = [];
    const observe = (model: string, size: number, ms: number) => {
      runs.push({ model, size, ms });
      if (runs.length > 64) runs.shift();
      batchSize?.observe({ model }, size);
      batchSeconds?.observe({ model }, ms / 1000);
    };
    const embed = new EmbedModels(config, modelsDir, observe, logger);
    const emotion = new EmotionModel(config, modelsDir, observe);
    const speech = new SpeechEngines(config, logger);
    const startedAt = Date.now();
    const app = await createApp({
      ...http,
      service: name,
      logger,
      bodyLimit: config.MAX_BODY_BYTES,
      token: config.SYNTHIANS_API_TOKEN,
      description:
        'Synthians PC2 ML worker: embeddings (OpenAI-compatible too), emotion classification, speech to text, text to speech, wake word and VAD; concurrent requests are batched per model; a full queue answers 503 queue_full.',
      health: (): HealthReport => ({
        status: 'healthy',
        checks: {
          models: { status: 'healthy', embed: embed.info(), emotion: emotion.id },
          queue: {
            status: 'healthy',
            embed_queued: embed.queued,
            speech_running: speech.slots.inUse,
            speech_queued: speech.slots.queued,
          },
        },
        execution_provider: config.PC2_EXECUTION_PROVIDER,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
      }),
    });
    const tasks = new Counter({
      name: 'pc2_tasks_total',
      help: 'Tasks answered, by type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [app.metricsRegistry],
    });
    const taskSeconds = new Histogram({
      name: 'pc2_task_seconds',
      help: 'Time to answer a task (queueing included), by type',
      labelNames: ['type'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [app.metricsRegistry],
    });
    const batchSize = new Histogram({
      name: 'pc2_batch_size',
      help: 'Texts per model run (requests batched together)',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [app.metricsRegistry],
    });
    const batchSeconds = new Histogram({
      name: 'pc2_batch_seconds',
      help: 'Duration of one model run',
      labelNames: ['model'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [app.metricsRegistry],
    });
    new Gauge({
      name: 'pc2_queue_items',
      help: 'Items waiting: embedding texts and speech tasks',
      labelNames: ['queue'],
      registers: [app.metricsRegistry],
      collect() {
        this.set({ queue: 'embed' }, embed.queued);
        this.set({ queue: 'speech' }, speech.slots.queued);
      },
    });
    registerApi(app, {
      embed,
      emotion,
      speech,
      maxTexts: config.MAX_TEXTS_PER_REQUEST,
      maxTextChars: config.MAX_TEXT_CHARS,
      onTask: (type, outcome, ms) => {
        tasks.inc({ type, outcome });
        taskSeconds.observe({ type }, ms / 1000);
      },
    });
    logger.info(
      {
        models_dir: modelsDir,
        embed: config.EMBED_MODELS,
        emotion: config.EMOTION_MODEL,
        stt: config.STT_PROVIDER,
      },
      'pc2 worker configured (models load on first use)',
    );
    return {
      name,
      app,
      host,
      port,
      async close() {
        await Promise.allSettled([embed.close(), emotion.close(), speech.close()]);
      },
    };
  },
};
