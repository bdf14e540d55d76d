// The coordinator service (port 8080): the conversation core over session memory (in-process SessionStore), long-term
// memory (memory core + orchestrator), the offline skills, timers, and an optional OpenAI-compatible language model.
import { Counter, Histogram } from 'prom-client';
import {
  ConsoleCookie,
  createApp,
  MemoryBus,
  serviceSetup,
  type Bus,
  type HealthReport,
  type ServiceContext,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { registerAudioRoute } from '../audio/route.ts';
import { Pc2Link } from '../audio/pc2.ts';
import { OpenAiChatClient, type ChatModel } from '../llm/index.ts';
import { createSkills, TimerService } from '../skills/index.ts';
import { consoleDist } from '@synthians/console';
import { registerApi } from './api.ts';
import { isConsolePublic, registerConsole } from './console.ts';
import { coordinatorSchema, loadCoordinatorConfig, type CoordinatorConfig } from './config.ts';
import { LongTermMemory } from './memory.ts';
import { MemoryWriter } from './memory-writer.ts';
import { agentStatePort, openSessions, type SessionPort } from './sessions.ts';
import { TurnEngine } from './turn-engine.ts';

export const TIMER_SUBJECT = 'assistant.timers';

export interface CoordinatorOptions {
  /** Session memory to use (e.g. a SessionStore shared with the session-memory service); default: opened from DATABASE_URL / the data dir. */
  sessions?: SessionPort;
  /** A chat model instead of the one LLM_BASE_URL configures. */
  llm?: ChatModel;
  /** The clock of skills and timers (tests). */
  now?: () => number;
}

export interface CoordinatorInstance extends ServiceInstance {
  engine: TurnEngine;
  timers: TimerService;
  config: CoordinatorConfig;
}

async function check(url: string, timeoutMs: number, headers: Record<string, string> = {}) {
  const started = performance.now();
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    const ms = Math.round((performance.now() - started) * 10) / 10;
    return res.ok
      ? { status: 'healthy' as const, url, ms }
      : { status: 'unhealthy' as const, url, ms, error: `HTTP ${res.status}` };
  } catch (err) {
    return { status: 'unhealthy' as const, url, error: (err as Error).message };
  }
}

export function createCoordinatorService(options: CoordinatorOptions = {}): ServiceDefinition {
  return {
    name: 'coordinator',
    port: 'coordinator',
    description:
      'Conversation core: text turns with skills (time, timers, reminders, memory), long-term memory and an optional language model',
    config: coordinatorSchema,
    async create(context: ServiceContext): Promise<CoordinatorInstance> {
      const config = loadCoordinatorConfig(context.env);
      const name = 'coordinator';
      const { logger, host, port, http } = serviceSetup(context, name, config);
      const token = config.SYNTHIANS_API_TOKEN;
      const opened = options.sessions
        ? undefined
        : await openSessions({
            env: context.env,
            dataDir: context.dataDir,
            logger,
            sessionTtlSeconds: config.SESSION_TTL_SECONDS,
          });
      const sessions = options.sessions ?? (opened?.port as SessionPort);
      const ownBus = context.bus ? undefined : new MemoryBus(logger);
      const bus: Bus = context.bus ?? (ownBus as Bus);
      const coreUrl = config.MEMORY_CORE_URL[0] as string;
      const memory = new LongTermMemory({
        coreUrl,
        orchestratorUrl: config.ORCHESTRATOR_URL,
        token,
        timeoutMs: config.MEMORY_TIMEOUT_MS,
      });
      const llm =
        options.llm ??
        (config.LLM_BASE_URL
          ? new OpenAiChatClient({
              baseUrl: config.LLM_BASE_URL,
              model: config.LLM_MODEL,
              apiKey: config.LLM_API_KEY,
              timeoutMs: config.LLM_TIMEOUT_MS,
              firstTokenTimeoutMs: config.LLM_FIRST_TOKEN_TIMEOUT_MS,
              maxTokens: config.LLM_MAX_TOKENS,
              temperature: config.LLM_TEMPERATURE,
            })
          : undefined);
      const state = agentStatePort(sessions);
      const timers = new TimerService({
        state,
        now: options.now,
        onFire: async (event) => {
          await engine.deliver(event);
          bus.publish(TIMER_SUBJECT, event);
          logger.info(
            { timer: event.timer.id, kind: event.timer.kind, late_ms: event.late_ms },
            'timer fired',
          );
        },
        onError: (err, timer) => logger.warn({ err: String(err), timer: timer.id }, 'timer delivery failed'),
      });
      const skills = createSkills({ memory, state, timers, confirmTtlMs: config.CONFIRM_TTL_SECONDS * 1000 });
      const writer = new MemoryWriter({
        outbox: sessions,
        memory,
        batchSize: config.MEMORY_WRITE_BATCH,
        maxBacklog: config.MEMORY_QUEUE_MAX,
        logger,
      });
      const engine = new TurnEngine({
        writer,
        sessions,
        memory,
        skills,
        llm,
        timeZone: config.TZ,
        defaultUserId: config.DEFAULT_USER_ID,
        maxTurnChars: config.MAX_TURN_CHARS,
        admission: {
          concurrency: config.TURN_CONCURRENCY,
          queue: config.TURN_QUEUE,
          queueTimeoutMs: config.TURN_QUEUE_TIMEOUT_MS,
        },
        recallTopK: config.RECALL_TOP_K,
        contextTokens: config.LLM_CONTEXT_TOKENS,
        sessionTtlSeconds: config.SESSION_TTL_SECONDS,
        systemPrompt: config.LLM_SYSTEM_PROMPT,
        now: options.now,
        logger,
      });
      const healthTimeout = Math.min(1000, config.MEMORY_TIMEOUT_MS);
      // Created once the app (and its metrics registry) exists; the health check reads it.
      let pc2: Pc2Link | undefined;
      const cookie = token && config.CONSOLE_ENABLED ? new ConsoleCookie(token) : undefined;
      const app = await createApp({
        ...http,
        service: name,
        logger,
        bodyLimit: config.MAX_BODY_BYTES,
        token,
        consoleCookie: cookie,
        isPublic: config.CONSOLE_ENABLED ? isConsolePublic : undefined,
        description:
          'Synthians coordinator: text turns answered by offline skills or a language model, with session and long-term memory.',
        health: async (): Promise<HealthReport> => {
          const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
          const [core, orch, model, worker] = await Promise.all([
            check(`${coreUrl}/health`, healthTimeout, auth),
            check(`${config.ORCHESTRATOR_URL}/health`, healthTimeout, auth),
            config.LLM_BASE_URL
              ? check(
                  `${config.LLM_BASE_URL.replace(/\/+$/, '')}/models`,
                  healthTimeout,
                  config.LLM_API_KEY ? { authorization: `Bearer ${config.LLM_API_KEY}` } : {},
                )
              : Promise.resolve({ status: 'healthy' as const, url: '', note: 'not configured: skills only' }),
            config.PC2_URL
              ? check(`${config.PC2_URL.replace(/\/+$/, '')}/health`, healthTimeout, auth).then((c) =>
                  c.status === 'healthy'
                    ? c
                    : { ...c, note: 'speech runs on the local engines until the PC2 worker is back' },
                )
              : Promise.resolve({
                  status: 'healthy' as const,
                  url: '',
                  note: 'not configured: local engines',
                }),
          ]);
          const checks = { memory_core: core, orchestrator: orch, llm: model, pc2: worker };
          const down = Object.values(checks).some((c) => c.status !== 'healthy');
          return {
            status: down ? 'degraded' : 'healthy',
            checks,
            memory_outbox: { backlog: writer.size, limit: config.MEMORY_QUEUE_MAX, ...writer.counts },
          };
        },
      });
      // Per-turn metrics (the Grafana dashboard's turn stage timings): every stage the engine timed, by channel.
      const stageSeconds = new Histogram({
        name: 'coordinator_turn_stage_seconds',
        help: 'Duration of each stage of a turn (stage="total": the whole turn), by channel (text, voice)',
        labelNames: ['stage', 'channel'],
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [app.metricsRegistry],
      });
      const turnsTotal = new Counter({
        name: 'coordinator_turns_total',
        help: 'Turns answered, by skill (or llm / fallback) and channel',
        labelNames: ['skill', 'channel'],
        registers: [app.metricsRegistry],
      });
      engine.events.on('turn', (t: { skill: string; channel: string; timings: Record<string, number> }) => {
        turnsTotal.inc({ skill: t.skill, channel: t.channel });
        for (const [stage, ms] of Object.entries(t.timings))
          if (Number.isFinite(ms)) stageSeconds.observe({ stage, channel: t.channel }, ms / 1000);
      });
      engine.events.on('voice_turn', (t: { timings: Record<string, number> }) => {
        for (const [key, ms] of Object.entries(t.timings))
          if (Number.isFinite(ms) && key.endsWith('_ms'))
            stageSeconds.observe({ stage: key.slice(0, -3), channel: 'voice' }, ms / 1000);
      });
      if (config.PC2_URL)
        pc2 = new Pc2Link({
          url: config.PC2_URL,
          token,
          timeoutMs: config.PC2_TIMEOUT_MS,
          retryMs: config.PC2_RETRY_MS,
          logger,
          registry: app.metricsRegistry,
        });
      const api = registerApi(app, {
        engine,
        sessions,
        timers,
        defaultUserId: config.DEFAULT_USER_ID,
        historyTurns: config.HISTORY_TURNS,
      });
      const audio = config.AUDIO_ENABLED
        ? await registerAudioRoute(app, { engine, sessions, config, logger, pc2 })
        : undefined;
      const web = config.CONSOLE_ENABLED
        ? await registerConsole(app, {
            distDir: consoleDist,
            memoryCoreUrl: coreUrl,
            healthMonitorUrl: config.HEALTH_MONITOR_URL,
            token,
            bus,
            pushIntervalMs: config.CONSOLE_HEALTH_PUSH_MS,
            logger,
            cookie,
          })
        : undefined;
      app.addHook('preClose', async () => {
        api.closeStreams();
        web?.close();
        await audio?.close();
      });
      return {
        name,
        app,
        host,
        port,
        engine,
        timers,
        config,
        async start() {
          const n = await timers.start();
          if (n > 0) logger.info({ timers: n }, 'timers restored');
          await writer.start();
        },
        async close() {
          await timers.stop();
          await engine.turnsDone();
          // What the writer has not sent stays in the outbox for the next start.
          await writer.close();
          await ownBus?.close();
          await opened?.close();
        },
      };
    },
  };
}

/** The coordinator with its own session database (DATABASE_URL, else PGlite under the data directory). */
export const coordinatorService: ServiceDefinition = createCoordinatorService();
