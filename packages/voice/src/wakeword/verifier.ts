// Second-stage wake-word verifier: openWakeWord's "custom verifier" idea. When the classifier's score for a
// wake word reaches the detector threshold (a candidate), a small logistic regression on the same speech
// embeddings (the last `window` 96-d embeddings, flattened, standardised) must also accept it; else the
// candidate is dropped. It lets the classifier run at a lower threshold (more detections in noise) while the
// verifier rejects the near misses ("hey Charlie", "hey Jasmine") that then score high.
//
// A verifier is a small JSON file (see `WakeWordVerifierModel`), trained offline by
// scripts/train-wakeword-verifier.ts. The bundled one (verifiers/hey_jarvis.json) was trained on espeak-ng
// speech only (voices, speeds, pitches, sentences and noise seeds disjoint from bench/wakeword.ts): it may
// reject real voices that sound unlike espeak-ng. Turn it off (`verifier: 'none'`, WAKE_WORD_VERIFIER=none)
// or train one on recordings of your own voice, as openWakeWord recommends for its custom verifiers.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { badRequest } from '@synthians/kit';

export const EMBEDDING_DIM = 96;

export interface WakeWordVerifierModel {
  /** Wake-word name (as the detector reports it) this verifier checks. */
  name: string;
  /** Embeddings per input (the last N steps). */
  window: number;
  /** Per-feature mean and scale (standardisation), window × 96 each. */
  mean: number[];
  scale: number[];
  /** Logistic-regression weights (window × 96) and bias. */
  weights: number[];
  bias: number;
  /** Probability at or above which a candidate is accepted. */
  threshold: number;
  /** Classifier threshold the verifier was tuned with (the detector default when this verifier is used). */
  detectorThreshold?: number;
  /** Free-form provenance (training data, date, figures). */
  trained?: Record<string, unknown>;
}

/** Built-in verifiers, by wake-word name, in this folder's verifiers/. */
export const BUILTIN_VERIFIERS: Readonly<Record<string, string>> = Object.freeze({
  hey_jarvis: 'hey_jarvis.json',
});

export const builtinVerifierPath = (name: string): string | undefined =>
  Object.prototype.hasOwnProperty.call(BUILTIN_VERIFIERS, name)
    ? path.join(import.meta.dirname, 'verifiers', BUILTIN_VERIFIERS[name]!)
    : undefined;

const invalid = (file: string, message: string) =>
  badRequest('invalid_wake_word_verifier', `${file}: ${message}`, { path: file });

/** Reads and checks a verifier JSON file. @throws AppError invalid_wake_word_verifier / wake_word_model_not_found */
export function loadVerifier(file: string): WakeWordVerifierModel {
  if (!existsSync(file)) {
    throw badRequest('wake_word_model_not_found', `The wake-word verifier file ${file} does not exist`, {
      path: file,
    });
  }
  let v: WakeWordVerifierModel;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as WakeWordVerifierModel;
  } catch (err) {
    throw invalid(file, `not JSON (${(err as Error).message})`);
  }
  const n = Number.isInteger(v?.window) && v.window > 0 ? v.window * EMBEDDING_DIM : -1;
  const vec = (x: unknown) =>
    Array.isArray(x) && x.length === n && x.every((e) => typeof e === 'number' && Number.isFinite(e));
  if (
    typeof v?.name !== 'string' ||
    n < 0 ||
    !vec(v.mean) ||
    !vec(v.scale) ||
    !vec(v.weights) ||
    typeof v.bias !== 'number' ||
    !(v.threshold > 0 && v.threshold < 1)
  ) {
    throw invalid(
      file,
      'not a wake-word verifier (name, window, mean/scale/weights of window × 96, bias, threshold)',
    );
  }
  return v;
}

/** Probability that the window (oldest first, `window` × 96 floats) holds the wake word. */
export function verifierScore(v: WakeWordVerifierModel, features: Float32Array): number {
  let z = v.bias;
  for (let i = 0; i < v.weights.length; i++) z += v.weights[i]! * ((features[i]! - v.mean[i]!) / v.scale[i]!);
  return 1 / (1 + Math.exp(-z));
}
