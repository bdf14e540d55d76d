// The HTTP API of the neural memory service, on the paths and fields of the original Synthians trainer-server
// (successes carry `status: 'success'`; failures are the kit's error envelope with a real status code). Every reply
// to a change comes after the change is durable (update log or snapshot, see namespaces.ts) and says `durable: true`.
import { Type } from '@sinclair/typebox';
import { badRequest, conflict, maskSecrets, type App, type Logger } from '@synthians/kit';
import { defaults, resolveConfig, VARIANTS, type NeuralMemoryConfig, type Variant } from './config.ts';
import type { NeuralMemory } from './memory.ts';
import { checkNamespace, type Entry, type NamespaceStore } from './namespaces.ts';
import { fetchMemories, toSequences, type MemoryCoreQuery } from './memory-core-client.ts';
import type { NeuralMemoryServiceConfig } from './service-config.ts';
import { INVALID_EMBEDDING, rejectZeroVector, toFloat32 } from './validate.ts';

export interface ApiContext {
  store: NamespaceStore;
  config: NeuralMemoryServiceConfig;
  logger: Logger;
}

type Body = Record<string, unknown>;

const AnyBody = Type.Object({}, { additionalProperties: true });
const bodySchema = (summary: string, description?: string) => ({
  schema: { tags: ['neural-memory'], summary, ...(description ? { description } : {}), body: AnyBody },
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const list = (v: Float32Array | Float64Array) => Array.from(v);

/** The first of `names` present in the body; all-zero vectors are refused (400 zero_vector). */
function embeddingField(body: Body, ...names: string[]): unknown {
  for (const name of names)
    if (body[name] !== undefined) {
      rejectZeroVector(body[name], name);
      return body[name];
    }
  throw badRequest(INVALID_EMBEDDING, `${names[0]} is required (an array of numbers)`, { field: names[0] });
}

function gates(g: { alpha: number; theta: number; eta: number }) {
  return { alpha: g.alpha, theta: g.theta, eta: g.eta };
}

function checkVariant(v: unknown): Variant {
  if (typeof v !== 'string' || !VARIANTS.includes(v.toUpperCase() as Variant))
    throw badRequest('invalid_variant', `variant must be one of ${VARIANTS.join(', ')}`, { value: v });
  return v.toUpperCase() as Variant;
}

function optionalNumber(
  body: Body,
  key: string,
  min: number,
  max: number,
  integer = false,
): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw badRequest(
      'invalid_options',
      `${key} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`,
      { field: key },
    );
  return v;
}

const camel = (k: string) => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const knownKeys = new Set(Object.keys(defaults));

/** A NeuralMemory config from a request (camelCase or snake_case keys; unknown keys are refused). */
function modelConfigFrom(value: unknown): Partial<NeuralMemoryConfig> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw badRequest('invalid_config', 'config must be an object');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Body)) {
    const key = camel(k);
    if (!knownKeys.has(key))
      throw badRequest('invalid_config', `Unknown config option ${k}`, {
        field: k,
        known: [...knownKeys].sort(),
      });
    out[key] = key === 'variant' && typeof v === 'string' ? v.toUpperCase() : v;
  }
  return out as Partial<NeuralMemoryConfig>;
}

function describeNamespace(store: NamespaceStore, e: Entry) {
  const c = e.memory.config;
  return {
    namespace: e.name,
    loaded: true,
    step: e.memory.step,
    variant: e.memory.variant,
    mode: c.mode,
    dirty: e.dirty,
    logged_since_snapshot: e.log.count,
    last_saved_at: iso(e.lastSavedAt),
    snapshot: store.snapshotInfo(e.name) !== null,
    input_dim: c.inputDim,
    key_dim: c.keyDim,
    value_dim: c.valueDim,
    hidden_dims: [...c.hiddenDims],
    backend: e.memory.backend,
  };
}

function matrix(
  name: string,
  values: Float32Array | Float64Array,
  rows: number,
  cols: number,
  full: boolean,
) {
  let n2 = 0;
  for (let i = 0; i < values.length; i++) n2 += values[i]! * values[i]!;
  const view: Record<string, unknown> = { name, shape: [rows, cols], norm: Math.sqrt(n2) };
  if (full) {
    const out: number[][] = [];
    for (let r = 0; r < rows; r++) out.push(Array.from(values.subarray(r * cols, (r + 1) * cols)));
    view.values = out;
  }
  return view;
}

function projectionsView(memory: NeuralMemory, full: boolean) {
  const p = memory.projections();
  const { inputDim: din, keyDim: dk, valueDim: dv } = memory.config;
  return {
    W_K: matrix('W_K', p.WK, dk, din, full),
    W_Q: matrix('W_Q', p.WQ, dk, din, full),
    W_V: matrix('W_V', p.WV, dv, din, full),
    gates: {
      weights: matrix('gate_W', p.gateW, 3, din, full),
      biases: { alpha: p.gateB[0], theta: p.gateB[1], eta: p.gateB[2] },
    },
  };
}

export function registerApi(app: App, ctx: ApiContext): void {
  const { store, config, logger } = ctx;
  const ns = (body: Body) => checkNamespace(body.namespace);

  app.post(
    '/update_memory',
    bodySchema('Write one embedding into the memory (test-time learning step)'),
    async (req) => {
      const body = req.body as Body;
      const name = ns(body);
      const x = embeddingField(body, 'input_embedding', 'embedding');
      return store.run(name, (e) => {
        const r = store.update(e, x);
        const out: Record<string, unknown> = {
          status: 'success',
          namespace: name,
          loss: r.loss,
          grad_norm: r.gradNorm,
          surprise: r.surprise,
          raw_surprise: r.rawSurprise,
          surprise_z: r.surpriseZ,
          gates: gates(r.gates),
          variant: e.memory.variant,
          step: r.step,
          written: r.written,
          clipped: r.clipped,
          durable: true,
        };
        if (r.variantOutput) out.variant_output = list(r.variantOutput);
        return out;
      });
    },
  );

  app.post(
    '/update_memory_batch',
    bodySchema(
      'Write up to 1000 embeddings into the memory, in order (one durable write for all)',
      'The same learning step as /update_memory for each of input_embeddings, in order, in one namespace; every update is logged and the answer waits for one sync. Answers each step’s loss, surprise and step.',
    ),
    async (req) => {
      const body = req.body as Body;
      const name = ns(body);
      const xs = body.input_embeddings;
      if (!Array.isArray(xs) || xs.length === 0 || xs.length > 1000)
        throw badRequest(INVALID_EMBEDDING, 'input_embeddings must be an array of 1 to 1000 embeddings', {
          field: 'input_embeddings',
        });
      xs.forEach((x, i) => rejectZeroVector(x, `input_embeddings[${i}]`));
      return store.run(name, (e) => {
        // Checked whole before the first update: a bad item changes nothing.
        const inputs = xs.map((x, i) => toFloat32(x, e.memory.config.inputDim, `input_embeddings[${i}]`));
        const results = inputs.map((x) => {
          const r = store.update(e, x);
          return { loss: r.loss, grad_norm: r.gradNorm, surprise: r.surprise, step: r.step };
        });
        return { status: 'success', namespace: name, variant: e.memory.variant, results, durable: true };
      });
    },
  );

  app.post('/retrieve', bodySchema('Read the memory for a query embedding (no update)'), async (req) => {
    const body = req.body as Body;
    const name = ns(body);
    const x = embeddingField(body, 'input_embedding', 'query_embedding', 'embedding');
    return store.run(name, (e) => ({
      status: 'success',
      namespace: name,
      retrieved_embedding: list(e.memory.retrieve(x as ArrayLike<number>)),
      variant: e.memory.variant,
    }));
  });

  app.post(
    '/predict_next',
    bodySchema('Sequence mode: predict the embedding that follows the input'),
    async (req) => {
      const body = req.body as Body;
      const name = ns(body);
      const x = embeddingField(body, 'input_embedding', 'embedding');
      return store.run(name, (e) => {
        if (e.memory.config.mode !== 'sequence')
          throw conflict(
            'wrong_mode',
            `Namespace ${name} is in '${e.memory.config.mode}' mode; /predict_next needs 'sequence' mode (POST /init with config {"mode": "sequence"}, or NM_MODE=sequence)`,
            { mode: e.memory.config.mode },
          );
        return {
          status: 'success',
          namespace: name,
          predicted_embedding: list(e.memory.predictNext(x as ArrayLike<number>)),
          variant: e.memory.variant,
        };
      });
    },
  );

  app.post('/calculate_gates', bodySchema('The gates α, θ, η for an input (no update)'), async (req) => {
    const body = req.body as Body;
    const name = ns(body);
    const x = embeddingField(body, 'input_embedding', 'embedding');
    return store.run(name, (e) => ({
      status: 'success',
      namespace: name,
      ...gates(e.memory.calculateGates(x as ArrayLike<number>)),
    }));
  });

  app.post(
    '/analyze_surprise',
    bodySchema('Loss and surprise of writing an input, without writing it'),
    async (req) => {
      const body = req.body as Body;
      const name = ns(body);
      const x = embeddingField(body, 'input_embedding', 'embedding');
      return store.run(name, (e) => {
        const s = e.memory.analyzeSurprise(x as ArrayLike<number>);
        return {
          status: 'success',
          namespace: name,
          loss: s.loss,
          grad_norm: s.gradNorm,
          surprise: s.surprise,
          raw_surprise: s.rawSurprise,
          surprise_z: s.surpriseZ,
          gates: gates(s.gates),
          evaluated: s.evaluated,
          variant: e.memory.variant,
          step: e.memory.step,
        };
      });
    },
  );

  app.post('/save', bodySchema('Write the namespace’s state to disk now'), async (req) => {
    const name = ns(req.body as Body);
    return store.run(name, async (e) => {
      const r = await store.save(e);
      return {
        status: 'success',
        namespace: name,
        bytes: r.bytes,
        step: e.memory.step,
        saved_at: iso(e.lastSavedAt),
        durable: true,
      };
    });
  });

  app.post(
    '/load',
    bodySchema('Replace the namespace’s state by its snapshot (404 when there is none)'),
    async (req) => {
      const name = ns(req.body as Body);
      return store.queue(name, async () => {
        const e = await store.load(name);
        return {
          status: 'success',
          namespace: name,
          step: e.memory.step,
          variant: e.memory.variant,
          durable: true,
        };
      });
    },
  );

  app.post(
    '/reset',
    bodySchema('Clear the memory (weights back to their initial values; learned projections are kept)'),
    async (req) => {
      const name = ns(req.body as Body);
      return store.run(name, (e) => {
        store.reset(e);
        return { status: 'success', namespace: name, step: e.memory.step, durable: true };
      });
    },
  );

  app.post(
    '/init',
    bodySchema(
      'Re-create the namespace’s memory',
      'config: NeuralMemory options over the service defaults (camelCase or snake_case, e.g. {"mode": "sequence", "variant": "MAG", "hidden_dims": [256]}); seed: the initialisation seed',
    ),
    async (req) => {
      const body = req.body as Body;
      const name = ns(body);
      const cfg = modelConfigFrom(body.config);
      const seed = optionalNumber(body, 'seed', 0, 2 ** 31 - 1, true);
      resolveConfig({ ...store.defaultConfig, ...cfg }); // 400 invalid_config before queueing
      return store.queue(name, async () => {
        const e = await store.init(name, cfg, seed);
        return {
          status: 'success',
          namespace: name,
          config: e.memory.config,
          seed: seed ?? store.seed,
          step: e.memory.step,
          durable: true,
        };
      });
    },
  );

  app.post(
    '/train_outer',
    bodySchema(
      'Learn the projections and gates (outer loop) from sequences of embeddings',
      'sequences: number[][][] (time-ordered embeddings per sequence, at most NM_TRAIN_MAX_BODY_EMBEDDINGS in all); without it, embeddings are read from the memory core (memory_core: {user_id, session_id, since, until, limit, filter, tags}); one sequence per session. The trained state is snapshotted before the reply',
    ),
    async (req) => {
      const body = req.body as Body;
      const name = ns(body);
      const epochs = optionalNumber(body, 'epochs', 1, 1000, true) ?? 1;
      const lr = optionalNumber(body, 'learning_rate', 1e-9, 1) ?? optionalNumber(body, 'lr', 1e-9, 1);
      const chunkSize = optionalNumber(body, 'chunk_size', 1, 4096, true);
      const started = performance.now();
      let sequences: unknown = body.sequences;
      let source: Record<string, unknown> = { kind: 'body' };
      if (sequences === undefined || sequences === null) {
        const q = (body.memory_core ?? {}) as MemoryCoreQuery;
        if (typeof q !== 'object' || Array.isArray(q))
          throw badRequest('invalid_options', 'memory_core must be an object');
        const limit = optionalNumber(q as Body, 'limit', 1, config.NM_TRAIN_MAX_EMBEDDINGS, true);
        for (const k of ['user_id', 'session_id'] as const)
          if (q[k] !== undefined && typeof q[k] !== 'string')
            throw badRequest('invalid_options', `memory_core.${k} must be a string`);
        if (q.tags !== undefined && (!Array.isArray(q.tags) || !q.tags.every((t) => typeof t === 'string')))
          throw badRequest('invalid_options', 'memory_core.tags must be an array of strings');
        const fetched = await fetchMemories(
          config.MEMORY_CORE_URL,
          { ...q, limit: limit ?? 1000 },
          {
            token: config.SYNTHIANS_API_TOKEN,
            timeoutMs: config.MEMORY_CORE_TIMEOUT_MS,
            logger,
            maxItems: config.NM_TRAIN_MAX_EMBEDDINGS,
          },
        );
        source = {
          kind: 'memory_core',
          url: fetched.url,
          memories: fetched.memories.length,
          pages: fetched.pages,
        };
        sequences = fetched.memories;
      } else {
        if (!Array.isArray(sequences) || !sequences.every((s) => Array.isArray(s)))
          throw badRequest('invalid_sequences', 'sequences must be an array of arrays of embeddings');
        const total = (sequences as unknown[][]).reduce((n, s) => n + s.length, 0);
        const max = Math.min(config.NM_TRAIN_MAX_EMBEDDINGS, config.NM_TRAIN_MAX_BODY_EMBEDDINGS);
        if (total > max)
          throw badRequest(
            'too_many_embeddings',
            `${total} embeddings given; at most ${max} per call in the body (NM_TRAIN_MAX_BODY_EMBEDDINGS; larger sets are read from the memory core)`,
          );
        (sequences as unknown[][]).forEach((s, i) =>
          s.forEach((x, t) => rejectZeroVector(x, `sequences[${i}][${t}]`)),
        );
      }
      const fromCore = source.kind === 'memory_core';
      return store.run(name, async (e) => {
        const dim = e.memory.config.inputDim;
        const seqs = fromCore
          ? toSequences(sequences as Parameters<typeof toSequences>[0], dim)
          : (sequences as number[][][]);
        const embeddings = seqs.reduce((n, s) => n + s.length, 0);
        if (embeddings === 0) throw badRequest('no_training_data', 'No embeddings to train on', { source });
        const opts: Parameters<NeuralMemory['trainOuter']>[1] = { epochs };
        if (lr !== undefined) opts.lr = lr;
        if (chunkSize !== undefined) opts.chunkSize = chunkSize;
        const r = await store.trainOuter(e, seqs, opts);
        return {
          status: 'success',
          namespace: name,
          loss_before: r.lossBefore,
          loss_after: r.lossAfter,
          epoch_losses: r.epochLosses,
          sequences: seqs.length,
          embeddings,
          steps: r.steps,
          took_ms: Math.round(performance.now() - started),
          source,
          durable: true,
        };
      });
    },
  );

  const projections = async (name: string, full: boolean) =>
    store.run(name, (e) => ({
      status: 'success',
      namespace: name,
      full,
      ...projectionsView(e.memory, full),
    }));
  app.post(
    '/get_projections',
    bodySchema('Shapes and norms of W_K, W_Q, W_V and the gate weights (full: true adds the values)'),
    async (req) => {
      const body = req.body as Body;
      return projections(ns(body), body.full === true);
    },
  );
  app.get(
    '/get_projections',
    {
      schema: {
        tags: ['neural-memory'],
        summary: 'Shapes and norms of the projections (?full=true adds the values)',
        querystring: Type.Object({
          namespace: Type.Optional(Type.String()),
          full: Type.Boolean({ default: false }),
        }),
      },
    },
    async (req) => {
      const q = req.query as { namespace?: string; full: boolean };
      return projections(checkNamespace(q.namespace), q.full);
    },
  );

  app.get(
    '/status',
    { schema: { tags: ['neural-memory'], summary: 'Namespaces, steps, variants, saves' } },
    async () => {
      const loaded = store.loaded();
      const names = new Set(loaded.map((e) => e.name));
      const unloaded = store
        .saved()
        .filter((n) => !names.has(n))
        .map((n) => ({
          namespace: n,
          loaded: false,
          snapshot: true,
          last_saved_at: iso(store.snapshotInfo(n)?.modifiedAt ?? null),
        }));
      return {
        status: 'success',
        mode: store.defaultConfig.mode,
        variant: store.variantOverride ?? store.defaultConfig.variant,
        storage_path: store.dir,
        autosave_interval_ms: store.autosaveIntervalMs,
        snapshot_every_updates: store.snapshotEveryUpdates,
        namespaces_loaded: loaded.length,
        namespaces: [
          ...loaded
            .map((e) => describeNamespace(store, e))
            .sort((a, b) => a.namespace.localeCompare(b.namespace)),
          ...unloaded,
        ],
      };
    },
  );

  const effectiveConfig = () => ({
    status: 'success',
    service: maskSecrets(config as unknown as Record<string, unknown>),
    runtime: {
      variant: store.variantOverride ?? store.defaultConfig.variant,
      autosave_interval_ms: store.autosaveIntervalMs,
      log_level: logger.level,
    },
    model: resolveConfig(store.defaultConfig),
    seed: store.seed,
  });

  app.get(
    '/config',
    { schema: { tags: ['neural-memory'], summary: 'The effective configuration' } },
    async () => effectiveConfig(),
  );

  app.post(
    '/config',
    bodySchema(
      'Change runtime options',
      'variant (NONE, MAC, MAG, MAL; with namespace: that namespace only, else every namespace and new ones), autosave_interval_ms, log_level. Variant switches are applied between two updates of each namespace and are durable (they survive restarts); autosave_interval_ms and log_level last until the process stops.',
    ),
    async (req) => {
      const body = req.body as Body;
      const allowed = new Set(['variant', 'namespace', 'autosave_interval_ms', 'log_level']);
      const unknown = Object.keys(body).filter((k) => !allowed.has(k));
      if (unknown.length > 0)
        throw badRequest('invalid_config', `Unknown or read-only option(s): ${unknown.join(', ')}`, {
          allowed: [...allowed],
        });
      if (!['variant', 'autosave_interval_ms', 'log_level'].some((k) => body[k] !== undefined))
        throw badRequest('invalid_config', 'Give variant, autosave_interval_ms or log_level');
      const variant = body.variant === undefined ? undefined : checkVariant(body.variant);
      const interval = optionalNumber(body, 'autosave_interval_ms', 0, 86_400_000, true);
      const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
      if (
        body.log_level !== undefined &&
        (typeof body.log_level !== 'string' || !levels.includes(body.log_level.toLowerCase()))
      )
        throw badRequest('invalid_config', `log_level must be one of ${levels.join(', ')}`);
      const applied: Record<string, unknown> = {};
      if (variant !== undefined) {
        if (body.namespace !== undefined) {
          const name = checkNamespace(body.namespace);
          await store.run(name, (e) => store.setVariant(e, variant));
          applied.namespaces = [name];
        } else {
          applied.namespaces = await store.setRuntimeVariant(variant);
        }
        applied.variant = variant;
      }
      if (interval !== undefined) {
        store.setAutosave(interval);
        applied.autosave_interval_ms = interval;
      }
      if (typeof body.log_level === 'string') {
        logger.level = body.log_level.toLowerCase();
        applied.log_level = logger.level;
      }
      const runtimeOnly = ['autosave_interval_ms', 'log_level'].filter((k) => body[k] !== undefined);
      // durable: the variant switch survives restarts; runtime_only: options that last until the process stops
      return { ...effectiveConfig(), applied, durable: variant !== undefined, runtime_only: runtimeOnly };
    },
  );
}
