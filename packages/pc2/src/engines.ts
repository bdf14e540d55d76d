// The PC2 worker's engines: embedding models (batched), the emotion classifier (batched when it is an ONNX
// model) and the speech engines (STT, TTS, wake word, VAD; a bounded number at a time). Every model loads on
// first use, once, so an idle worker holds none of them.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { AppError, ConfigError, type Logger } from '@synthians/kit';
import {
  analyzeEmotion,
  buildWordVectorModel,
  createBuiltinEmbedder,
  createOnnxEncoder,
  WORD_VECTOR_MODEL_NAME,
  type EmbeddingProvider,
  type OnnxEncoder,
} from '@synthians/memory-core';
import {
  createSttProvider,
  DEFAULT_COMMANDS,
  SileroPool,
  sttFromSettings,
  ttsFromSettings,
  VadDetector,
  wakeFromSettings,
  type SttProvider,
  type TtsProvider,
  type WakeEngine,
} from '@synthians/voice';
import { MicroBatcher, Semaphore } from './batcher.ts';
import type { Pc2Config } from './config.ts';

export interface RunObserver {
  (model: string, size: number, ms: number): void;
}

/** Where a configured model name lives: a path as given, else `<modelsDir>/<name>`. */
export function modelFolder(name: string, modelsDir: string): string {
  if (isAbsolute(name) || name.startsWith('.') || name.includes('/') || name.includes('\\'))
    return resolve(name);
  return join(modelsDir, name);
}

interface LoadedEmbedder {
  id: string;
  provider: EmbeddingProvider;
  dim: number;
  kind: 'builtin' | 'onnx';
  executionProvider: 'js' | 'cpu' | 'cuda';
  batcher: MicroBatcher<string, Float32Array>;
  countTokens(texts: string[]): number[];
}

export interface ModelInfo {
  id: string;
  task: 'embed' | 'emotion';
  loaded: boolean;
  dim?: number;
  kind?: string;
  execution_provider?: string;
  queued?: number;
}

/** Approximate token count for models without a tokenizer (OpenAI usage figures): words and punctuation. */
const roughTokens = (t: string) => t.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu)?.length ?? 0;

export class EmbedModels {
  readonly ids: string[];
  private readonly loading = new Map<string, Promise<LoadedEmbedder>>();
  private readonly loaded = new Map<string, LoadedEmbedder>();

  constructor(
    private readonly config: Pc2Config,
    private readonly modelsDir: string,
    private readonly observe: RunObserver,
    private readonly logger: Logger,
  ) {
    this.ids = config.EMBED_MODELS;
    if (this.ids.length === 0) throw new ConfigError('EMBED_MODELS lists no model');
    for (const id of this.ids) {
      if (id === 'builtin' || id === WORD_VECTOR_MODEL_NAME) continue;
      const folder = modelFolder(id, modelsDir);
      if (!existsSync(join(folder, 'model.onnx')) || !existsSync(join(folder, 'tokenizer.json'))) {
        throw new ConfigError(
          `EMBED_MODELS: ${id} is not installed at ${folder}; run \`synthians models pull ${id}\` (or give a folder with model.onnx and tokenizer.json)`,
          [{ variable: 'EMBED_MODELS', message: `${id} not installed` }],
        );
      }
    }
  }

  get defaultId(): string {
    return this.ids[0]!;
  }

  /** The model (loading it on first use); 404 `unknown_model` for a name that is not served. */
  async get(id: string | undefined): Promise<LoadedEmbedder> {
    const name = id ?? this.defaultId;
    if (!this.ids.includes(name)) {
      throw new AppError(404, 'unknown_model', `model ${JSON.stringify(name)} is not served here`, {
        models: this.ids,
      });
    }
    let p = this.loading.get(name);
    if (!p) {
      p = this.load(name);
      this.loading.set(name, p);
      p.catch(() => this.loading.delete(name));
    }
    return p;
  }

  private async load(id: string): Promise<LoadedEmbedder> {
    const started = performance.now();
    let provider: EmbeddingProvider;
    let kind: LoadedEmbedder['kind'];
    let executionProvider: LoadedEmbedder['executionProvider'];
    let countTokens: (texts: string[]) => number[];
    if (id === 'builtin') {
      provider = createBuiltinEmbedder(this.config.EMBED_DIM);
      kind = 'builtin';
      executionProvider = 'js';
      countTokens = (texts) => texts.map(roughTokens);
    } else {
      const folder = modelFolder(id, this.modelsDir);
      if (id === WORD_VECTOR_MODEL_NAME && !existsSync(join(folder, 'model.onnx'))) {
        await buildWordVectorModel(folder);
        this.logger.info({ model: id, folder }, 'built the word-vector ONNX model');
      }
      const encoder: OnnxEncoder = await createOnnxEncoder({
        modelPath: folder,
        name: id,
        maxTokens: this.config.EMBED_MAX_TOKENS,
        batchSize: this.config.BATCH_MAX_SIZE,
        executionProvider: this.config.PC2_EXECUTION_PROVIDER,
        intraOpThreads: this.config.PC2_INTRA_OP_THREADS || undefined,
      });
      provider = encoder;
      kind = 'onnx';
      executionProvider = encoder.executionProvider;
      countTokens = (texts) => encoder.countTokens(texts);
    }
    const batcher = new MicroBatcher<string, Float32Array>({
      maxBatch: this.config.BATCH_MAX_SIZE,
      maxWaitMs: this.config.BATCH_MAX_WAIT_MS,
      maxQueue: this.config.QUEUE_MAX_ITEMS,
      run: (texts) => provider.embed(texts),
      onRun: (size, ms) => this.observe(id, size, ms),
    });
    const model: LoadedEmbedder = {
      id,
      provider,
      dim: provider.dim,
      kind,
      executionProvider,
      batcher,
      countTokens,
    };
    this.loaded.set(id, model);
    this.logger.info(
      {
        model: id,
        dim: provider.dim,
        execution_provider: executionProvider,
        ms: Math.round(performance.now() - started),
      },
      'embedding model loaded',
    );
    return model;
  }

  info(): ModelInfo[] {
    return this.ids.map((id) => {
      const m = this.loaded.get(id);
      return m
        ? {
            id,
            task: 'embed' as const,
            loaded: true,
            dim: m.dim,
            kind: m.kind,
            execution_provider: m.executionProvider,
            queued: m.batcher.queued,
          }
        : { id, task: 'embed' as const, loaded: false };
    });
  }

  get queued(): number {
    let n = 0;
    for (const m of this.loaded.values()) n += m.batcher.queued;
    return n;
  }

  async close(): Promise<void> {
    for (const m of this.loaded.values()) {
      m.batcher.close();
      await m.provider.close?.();
    }
  }
}

export interface EmotionOutput {
  dominant: string;
  scores: Record<string, number>;
  valence?: number;
  intensity?: number;
}

/** The emotion classifier: the lexicon analyser, or an ONNX sequence classifier with its labels. */
export class EmotionModel {
  private classifier:
    | Promise<{
        encoder: OnnxEncoder;
        labels: string[];
        multiLabel: boolean;
        batcher: MicroBatcher<string, Float32Array>;
      }>
    | undefined;

  constructor(
    private readonly config: Pc2Config,
    private readonly modelsDir: string,
    private readonly observe: RunObserver,
  ) {
    if (config.EMOTION_MODEL !== 'lexicon') {
      const folder = modelFolder(config.EMOTION_MODEL, modelsDir);
      for (const f of ['model.onnx', 'tokenizer.json', 'config.json'])
        if (!existsSync(join(folder, f)))
          throw new ConfigError(
            `EMOTION_MODEL: ${folder} has no ${f}; run \`synthians models pull ${config.EMOTION_MODEL}\``,
            [{ variable: 'EMOTION_MODEL', message: 'not installed' }],
          );
    }
  }

  get id(): string {
    return this.config.EMOTION_MODEL;
  }

  get loaded(): boolean {
    return this.config.EMOTION_MODEL === 'lexicon' || this.classifier !== undefined;
  }

  private load() {
    this.classifier ??= (async () => {
      const folder = modelFolder(this.config.EMOTION_MODEL, this.modelsDir);
      const cfg = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as {
        id2label?: Record<string, string>;
        problem_type?: string;
      };
      const labels = Object.entries(cfg.id2label ?? {})
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(([, l]) => l);
      if (labels.length === 0) throw new ConfigError(`${folder}/config.json has no id2label`);
      const encoder = await createOnnxEncoder({
        modelPath: folder,
        name: this.config.EMOTION_MODEL,
        maxTokens: this.config.EMBED_MAX_TOKENS,
        batchSize: this.config.BATCH_MAX_SIZE,
        executionProvider: this.config.PC2_EXECUTION_PROVIDER,
        intraOpThreads: this.config.PC2_INTRA_OP_THREADS || undefined,
        normalize: false,
      });
      if (encoder.dim !== labels.length)
        throw new ConfigError(`${folder}: the model gives ${encoder.dim} logits for ${labels.length} labels`);
      const batcher = new MicroBatcher<string, Float32Array>({
        maxBatch: this.config.BATCH_MAX_SIZE,
        maxWaitMs: this.config.BATCH_MAX_WAIT_MS,
        maxQueue: this.config.QUEUE_MAX_ITEMS,
        run: (texts) => encoder.embed(texts),
        onRun: (size, ms) => this.observe(this.config.EMOTION_MODEL, size, ms),
      });
      return { encoder, labels, multiLabel: cfg.problem_type === 'multi_label_classification', batcher };
    })();
    this.classifier.catch(() => (this.classifier = undefined));
    return this.classifier;
  }

  async classify(texts: string[]): Promise<EmotionOutput[]> {
    if (this.config.EMOTION_MODEL === 'lexicon') return texts.map((t) => analyzeEmotion(t));
    const { labels, multiLabel, batcher } = await this.load();
    const logits = await batcher.submit(texts);
    return logits.map((row) => {
      let probs: number[];
      if (multiLabel) probs = Array.from(row, (x) => 1 / (1 + Math.exp(-x)));
      else {
        const max = Math.max(...row);
        const exps = Array.from(row, (x) => Math.exp(x - max));
        const sum = exps.reduce((a, b) => a + b, 0);
        probs = exps.map((e) => e / sum);
      }
      const scores: Record<string, number> = {};
      let best = 0;
      probs.forEach((p, i) => {
        scores[labels[i]!] = p;
        if (p > probs[best]!) best = i;
      });
      return { dominant: labels[best]!, scores };
    });
  }

  async close(): Promise<void> {
    const c = await this.classifier?.catch(() => undefined);
    if (c) {
      c.batcher.close();
      await c.encoder.close?.();
    }
  }
}

/** Most grammars (phrase sets) kept as pocketsphinx providers at once. */
const MAX_GRAMMARS = 4;

/** Speech engines, created on first use; at most SPEECH_CONCURRENCY tasks at a time. */
export class SpeechEngines {
  readonly slots: Semaphore;
  private stt: SttProvider | undefined;
  private readonly grammars = new Map<string, SttProvider>();
  private tts: TtsProvider | undefined;
  private wake: Promise<WakeEngine | undefined> | undefined;
  private readonly vad: SileroPool;

  constructor(
    private readonly config: Pc2Config,
    private readonly logger: Logger,
  ) {
    this.slots = new Semaphore(config.SPEECH_CONCURRENCY, config.SPEECH_QUEUE_MAX);
    this.vad = new SileroPool(config.SPEECH_CONCURRENCY + 1);
  }

  get sttName(): string {
    return this.config.STT_PROVIDER;
  }

  get ttsName(): string {
    return this.config.TTS_PROVIDER;
  }

  /** The STT engine; with `phrases` and pocketsphinx, one that recognises exactly those phrases. */
  sttFor(phrases: string[] | undefined): SttProvider {
    if (phrases && phrases.length > 0 && this.config.STT_PROVIDER === 'pocketsphinx') {
      const key = [...new Set(phrases.map((p) => p.trim().toLowerCase()))].sort().join('\n');
      let p = this.grammars.get(key);
      if (p) {
        // Most recently used last.
        this.grammars.delete(key);
        this.grammars.set(key, p);
        return p;
      }
      p = createSttProvider({
        provider: 'pocketsphinx',
        timeoutMs: this.config.STT_TIMEOUT_MS,
        commands: key.split('\n'),
      });
      this.grammars.set(key, p);
      if (this.grammars.size > MAX_GRAMMARS) {
        const [oldestKey, oldest] = this.grammars.entries().next().value as [string, SttProvider];
        this.grammars.delete(oldestKey);
        void oldest.close();
      }
      return p;
    }
    this.stt ??=
      this.config.STT_PROVIDER === 'pocketsphinx'
        ? createSttProvider({
            provider: 'pocketsphinx',
            timeoutMs: this.config.STT_TIMEOUT_MS,
            commands: [...DEFAULT_COMMANDS],
          })
        : sttFromSettings(this.config);
    return this.stt;
  }

  ttsEngine(): TtsProvider {
    this.tts ??= ttsFromSettings(this.config);
    return this.tts;
  }

  async wakeEngine(): Promise<WakeEngine | undefined> {
    this.wake ??= wakeFromSettings(this.config, this.logger);
    this.wake.catch(() => (this.wake = undefined));
    return this.wake;
  }

  async segments(samples: Float32Array, overrides: Record<string, number>) {
    const vad = await this.vad.acquire();
    try {
      let detector: VadDetector;
      try {
        detector = new VadDetector(vad, overrides);
      } catch (err) {
        if (err instanceof RangeError) throw new AppError(400, 'invalid_vad_option', err.message);
        throw err;
      }
      return await detector.segments(samples);
    } finally {
      this.vad.release(vad);
    }
  }

  async close(): Promise<void> {
    const closing: Promise<unknown>[] = [this.vad.close()];
    if (this.stt) closing.push(this.stt.close());
    for (const p of this.grammars.values()) closing.push(p.close());
    if (this.tts) closing.push(this.tts.close());
    await Promise.allSettled(closing);
  }
}
