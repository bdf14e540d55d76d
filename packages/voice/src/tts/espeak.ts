// Offline text to speech with espeak-ng compiled to WebAssembly (npm `espeak-ng`, GPL-3.0-or-later; the voice data is
// embedded in the .wasm). No native binary, no network.
//
// How the WASM build is driven (read from dist/espeak-ng.js): it is an Emscripten MODULARIZE factory of the espeak-ng
// *command line program*; `callMain` is not exported and the program's getopt/exit state cannot be reset, so one
// instance runs `main` once. What makes that cheap:
//   - the 18 MB module is compiled once per process (`WebAssembly.compile`, shared by all providers);
//   - each instance is created with `noInitialRun` and instantiated synchronously from the compiled module, and one
//     spare instance is kept ready (pre-warmed), so a sentence only pays for `main` itself (~10–30 ms);
//   - this debug build captures a stack trace for every internal FS error (thousands while it mounts the embedded
//     voice data and while espeak probes for files); stack capture is switched off during those synchronous sections.
// We call `main` ourselves (argv on the WASM stack, like Emscripten's callMain), with the text in a file (`-f`), so no
// text can ever be taken for an option; the WAV comes back through the in-memory FS. The Emscripten `quit` hook is
// replaced, because the default sets `process.exitCode` to espeak's exit status.
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { badRequest } from '@synthians/kit';
import {
  convertSamples,
  decodeEngineWav,
  resolveOptions,
  throwIfAborted,
  ttsFailed,
  ttsUnavailable,
  type ResolvedOptions,
} from './audio.ts';
import { splitSentences } from './sentences.ts';
import type { SynthesizeOptions, TtsChunk, TtsProvider, TtsVoice } from './types.ts';

/** espeak-ng's output rate. */
export const ESPEAK_SAMPLE_RATE = 22050;
/** espeak-ng's default speaking rate (words per minute) = speed 1. */
export const ESPEAK_DEFAULT_WPM = 175;
/** espeak-ng's limits without the sonic library (faster settings are clamped to 450 by espeak itself). */
export const ESPEAK_MIN_WPM = 80;
export const ESPEAK_MAX_WPM = 450;
export const ESPEAK_DEFAULT_VOICE = 'en-us';

/** A voice or language code, optionally with a variant: `en-us`, `en-gb-scotland`, `en-us+f3`, `gmw/en-US`. */
const VOICE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_\-/]{0,63}(\+[A-Za-z0-9_-]{1,32})?$/;

interface EmscriptenFs {
  writeFile(path: string, data: string | Uint8Array): void;
  readFile(path: string): Uint8Array;
}

interface EspeakModule {
  FS: EmscriptenFs;
  _main(argc: number, argv: number): number;
}

// The tsconfig has no DOM lib, so the few WebAssembly types used here are declared locally.
type WasmModule = object;
interface WasmInstance {
  exports: Record<string, unknown>;
}
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: object) => WasmInstance;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface EspeakExports {
  memory: { buffer: ArrayBuffer };
  stackSave(): number;
  stackRestore(sp: number): void;
  stackAlloc(size: number): number;
}

type EspeakFactory = (moduleArg: Record<string, unknown>) => Promise<EspeakModule>;

interface Instance {
  module: EspeakModule;
  exports: EspeakExports;
  stdout: string[];
  stderr: string[];
}

export interface EspeakRun {
  status: number;
  stdout: string[];
  stderr: string[];
  /** A file the program wrote, if it exists. */
  file(path: string): Uint8Array | undefined;
}

let compiled: Promise<{ factory: EspeakFactory; module: WasmModule }> | undefined;

/** Loads the glue and compiles the .wasm once per process. */
function loadEspeak(): Promise<{ factory: EspeakFactory; module: WasmModule }> {
  compiled ??= (async () => {
    const specifier = 'espeak-ng';
    const entry = createRequire(import.meta.url).resolve(specifier);
    const [glue, bytes] = await Promise.all([
      import(specifier) as Promise<{ default: EspeakFactory }>,
      readFile(path.join(path.dirname(entry), 'espeak-ng.wasm')),
    ]);
    return { factory: glue.default, module: await wasm.compile(bytes) };
  })();
  compiled.catch(() => {
    compiled = undefined; // let a later call retry
  });
  return compiled;
}

/** Runs `fn` with stack-trace capture off (the glue's FS errors are expected and never surface). */
function withoutStacks<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = 0;
  Error.prepareStackTrace = () => '';
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
  }
}

const isExitStatus = (e: unknown): e is { status: number } =>
  typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'ExitStatus';

/**
 * The espeak-ng program in WASM: `run(args, files)` executes it once on a fresh (pre-warmed) instance.
 * Runs are serialised: each is synchronous CPU work and holds a ~50 MB instance.
 */
export class EspeakWasm {
  private spare: Promise<Instance> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Number of completed program runs (for diagnostics and tests). */
  runs = 0;

  constructor(private readonly prewarm = true) {}

  /** Compiles the module and prepares an instance ahead of the first request. */
  async warmUp(): Promise<void> {
    this.spare ??= this.create();
    await this.spare;
  }

  private async create(): Promise<Instance> {
    const { factory, module } = await loadEspeak();
    const stdout: string[] = [];
    const stderr: string[] = [];
    let exports: EspeakExports | undefined;
    let quiet: { limit: number; prepare: typeof Error.prepareStackTrace } | undefined;
    const restore = () => {
      if (quiet) {
        Error.stackTraceLimit = quiet.limit;
        Error.prepareStackTrace = quiet.prepare;
        quiet = undefined;
      }
    };
    try {
      const mod = await factory({
        noInitialRun: true,
        print: (line: string) => stdout.push(line),
        printErr: (line: string) => stderr.push(line),
        quit: (_status: number, toThrow: unknown) => {
          throw toThrow;
        },
        // Mounting the embedded data happens synchronously between these two hooks.
        preRun: [
          () => {
            quiet = { limit: Error.stackTraceLimit, prepare: Error.prepareStackTrace };
            Error.stackTraceLimit = 0;
            Error.prepareStackTrace = () => '';
          },
        ],
        onRuntimeInitialized: restore,
        instantiateWasm: (imports: object, receive: (instance: WasmInstance, module: WasmModule) => void) => {
          const instance = new wasm.Instance(module, imports);
          exports = instance.exports as unknown as EspeakExports;
          receive(instance, module);
          return instance.exports;
        },
      });
      if (!exports) throw new Error('espeak-ng WASM did not instantiate');
      return { module: mod, exports, stdout, stderr };
    } finally {
      restore();
    }
  }

  private take(): Promise<Instance> {
    const next = this.spare ?? this.create();
    this.spare = undefined;
    return next;
  }

  /** Prepares the next instance once the current work (and whoever awaits its result) has run. */
  private refill(): void {
    if (!this.prewarm || this.closed || this.spare) return;
    setImmediate(() => {
      if (this.closed || this.spare) return;
      const ready = this.create();
      ready.catch(() => {
        if (this.spare === ready) this.spare = undefined;
      });
      this.spare = ready;
    });
  }

  /** Runs `espeak-ng args...` once, with `files` written to the in-memory FS first. */
  run(args: string[], files: Record<string, string | Uint8Array> = {}): Promise<EspeakRun> {
    if (this.closed) return Promise.reject(ttsUnavailable('The espeak-ng engine is closed'));
    const job = this.queue.then(async () => {
      let inst: Instance;
      try {
        inst = await this.take();
      } catch (err) {
        this.spare = undefined;
        throw ttsUnavailable(`espeak-ng WASM could not be loaded: ${(err as Error).message}`);
      }
      for (const [name, data] of Object.entries(files)) inst.module.FS.writeFile(name, data);
      const status = withoutStacks(() => callMain(inst, args));
      this.runs++;
      this.refill();
      return {
        status,
        stdout: inst.stdout,
        stderr: inst.stderr.filter((l) => !l.startsWith('program exited (with status')),
        file: (name: string) => {
          try {
            return withoutStacks(() => inst.module.FS.readFile(name));
          } catch {
            return undefined;
          }
        },
      };
    });
    this.queue = job.catch(() => undefined);
    return job;
  }

  close(): void {
    this.closed = true;
    this.spare = undefined;
  }
}

/** Emscripten's callMain, which this build does not export: argv on the WASM stack, exit() caught. */
function callMain(inst: Instance, args: string[]): number {
  const { exports: ex, module } = inst;
  const all = ['espeak-ng', ...args];
  const encoder = new TextEncoder();
  const sp = ex.stackSave();
  try {
    const argv = ex.stackAlloc((all.length + 1) * 4);
    const pointers = all.map((arg) => {
      const bytes = encoder.encode(arg + '\0');
      const p = ex.stackAlloc(bytes.length);
      new Uint8Array(ex.memory.buffer).set(bytes, p);
      return p;
    });
    const view = new DataView(ex.memory.buffer);
    pointers.forEach((p, i) => view.setUint32(argv + i * 4, p, true));
    view.setUint32(argv + all.length * 4, 0, true);
    try {
      return module._main(all.length, argv);
    } catch (err) {
      if (isExitStatus(err)) return err.status;
      throw err;
    }
  } finally {
    ex.stackRestore(sp);
  }
}

export interface EspeakProviderOptions {
  /** Default voice (espeak-ng voice/language, optionally `+variant`). Default `en-us`. */
  voice?: string;
  /** Keep a spare WASM instance ready (faster first audio, ~50 MB held). Default true. */
  prewarm?: boolean;
}

/** Words per minute for a speed multiplier, within what espeak-ng can do. */
export const espeakWpm = (speed: number): number =>
  Math.min(ESPEAK_MAX_WPM, Math.max(ESPEAK_MIN_WPM, Math.round(ESPEAK_DEFAULT_WPM * speed)));

export class EspeakTtsProvider implements TtsProvider {
  readonly name = 'espeak';
  readonly engine: EspeakWasm;
  private readonly defaultVoice: string;
  private voiceList: Promise<TtsVoice[]> | undefined;

  constructor(options: EspeakProviderOptions = {}) {
    this.defaultVoice = checkVoice(options.voice ?? ESPEAK_DEFAULT_VOICE);
    this.engine = new EspeakWasm(options.prewarm ?? true);
  }

  /**
   * Loads and compiles the engine now instead of on the first request, and speaks one word so the WASM code
   * and the resampler are warm (the first sentence after this comes out in tens of milliseconds).
   */
  async warmUp(): Promise<void> {
    await this.engine.warmUp();
    await this.speak('Ready.', this.defaultVoice, resolveOptions('Ready.', {}));
  }

  async *synthesize(text: string, options: SynthesizeOptions = {}): AsyncIterable<TtsChunk> {
    const opts = resolveOptions(text, options);
    const voice = checkVoice(opts.voice ?? this.defaultVoice);
    const sentences = splitSentences(text);
    for (let index = 0; index < sentences.length; index++) {
      throwIfAborted(opts.signal);
      const sentence = sentences[index] as string;
      const audio = await this.speak(sentence, voice, opts);
      throwIfAborted(opts.signal);
      yield { index, text: sentence, audio, sampleRate: opts.sampleRate, encoding: opts.encoding };
    }
  }

  private async speak(sentence: string, voice: string, opts: ResolvedOptions): Promise<Uint8Array> {
    const args = [
      '-w',
      '/out.wav',
      '-b',
      '1',
      '-s',
      String(espeakWpm(opts.speed)),
      '-v',
      voice,
      '-f',
      '/in.txt',
    ];
    const run = await this.engine.run(args, { '/in.txt': sentence });
    if (run.status !== 0) {
      const message = run.stderr.join(' ').trim();
      if (/voice does not exist|Failed to read voice/i.test(message)) {
        throw badRequest('unknown_tts_voice', `espeak-ng has no voice ${JSON.stringify(voice)}`, { voice });
      }
      throw ttsFailed(`espeak-ng failed (exit status ${run.status})${message ? `: ${message}` : ''}`);
    }
    const wav = run.file('/out.wav');
    if (!wav) throw ttsFailed('espeak-ng produced no audio file');
    let decoded: { samples: Float32Array; sampleRate: number };
    try {
      decoded = decodeEngineWav(wav);
    } catch (err) {
      throw ttsFailed(`espeak-ng produced an unreadable WAV: ${(err as Error).message}`);
    }
    return convertSamples(decoded.samples, decoded.sampleRate, opts);
  }

  voices(): Promise<TtsVoice[]> {
    this.voiceList ??= this.engine.run(['--voices']).then((run) => {
      const voices = parseVoiceList(run.stdout);
      if (voices.length === 0) throw ttsFailed('espeak-ng listed no voices');
      return voices;
    });
    this.voiceList.catch(() => {
      this.voiceList = undefined;
    });
    return this.voiceList;
  }

  async check(): Promise<{ ok: boolean; detail?: string }> {
    // Health checks run every few seconds: until the engine is first used, only check that its files are there
    // (loading it costs ~70 MB of memory that an idle assistant should not hold).
    if (!compiled) {
      try {
        const entry = createRequire(import.meta.url).resolve('espeak-ng');
        await access(path.join(path.dirname(entry), 'espeak-ng.wasm'));
        return { ok: true, detail: 'espeak-ng (WASM) installed; loads on first use' };
      } catch (err) {
        return { ok: false, detail: `espeak-ng WASM not found: ${(err as Error).message}` };
      }
    }
    try {
      const run = await this.engine.run(['--version']);
      const version = run.stdout.join(' ').trim();
      return run.status === 0
        ? { ok: true, detail: version || 'espeak-ng (WASM)' }
        : { ok: false, detail: `espeak-ng exited with status ${run.status}` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    this.engine.close();
  }
}

function checkVoice(voice: string): string {
  if (!VOICE_PATTERN.test(voice)) {
    throw badRequest(
      'invalid_tts_request',
      `Invalid espeak-ng voice ${JSON.stringify(voice)}; expected a voice such as en-us, en-gb or en-us+f3`,
      { voice },
    );
  }
  return voice;
}

/**
 * Parses `espeak-ng --voices`:
 * `Pty Language Age/Gender VoiceName File Other Languages`, e.g. ` 2  en-us  --/M  English_(America)  gmw/en-US  (en 3)`.
 * The language code is what `-v` takes, so it is the voice name.
 */
export function parseVoiceList(lines: string[]): TtsVoice[] {
  const voices: TtsVoice[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    const m = /^\s*\d+\s+(\S+)\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (!m) continue;
    const language = m[1] as string;
    if (seen.has(language)) continue;
    seen.add(language);
    const others = [...(m[2] ?? '').matchAll(/\(([^\s)]+)\s+\d+\)/g)].map((x) => x[1] as string);
    voices.push({ name: language, languages: [language, ...others.filter((o) => o !== language)] });
  }
  return voices;
}
