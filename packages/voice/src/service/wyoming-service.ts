// The Wyoming server (port 10300): our VAD, wake word, speech to text and text to speech for Home Assistant and
// wyoming-satellite devices. The same port answers HTTP (/health, /metrics, …): a connection whose first byte
// is `{` speaks Wyoming, anything else is handed to the HTTP server (with its bearer-token check).
//
// Off loopback, Wyoming connections authenticate: the first event is our `auth {token}` extension (token:
// WYOMING_TOKEN, else SYNTHIANS_API_TOKEN), unless the client's address is in WYOMING_ALLOWED_CLIENTS (Home
// Assistant cannot send a token). A connection that has not authenticated within WYOMING_AUTH_TIMEOUT_MS is
// closed. On loopback nothing is asked. See ../wyoming/README.md.
import net from 'node:net';
import {
  ConfigError,
  createApp,
  isLoopback,
  type HealthReport,
  type HealthStatus,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { Counter, Gauge } from 'prom-client';
import { ClientAllowList } from '../wyoming/access.ts';
import { closeWyomingConnection, serveWyomingConnection, type WyomingEngines } from '../wyoming/server.ts';
import { SileroPool } from './audio-http.ts';
import { loadWyomingConfig, vadConfigFrom, wyomingSchema } from './config.ts';
import { sttFromSettings, ttsFromSettings, wakeFromSettings } from './engines.ts';

const VERSION = '0.1.0';

export const wyomingService: ServiceDefinition = {
  name: 'wyoming',
  port: 'wyoming',
  description:
    'Wyoming protocol server (Home Assistant, wyoming-satellite): VAD, wake word, speech to text, text to speech',
  config: wyomingSchema,
  async create(context: ServiceContext): Promise<ServiceInstance> {
    const config = loadWyomingConfig(context.env);
    const name = 'wyoming';
    const { logger, host, port, http } = serviceSetup(
      context,
      name,
      config,
      context.port ?? config.WYOMING_PORT ?? config.PORT,
    );
    // serviceSetup has refused an off-loopback bind without SYNTHIANS_API_TOKEN (the HTTP side); the Wyoming
    // side checks for itself so that it never serves anonymously there whatever the HTTP rules become.
    const token = config.WYOMING_TOKEN ?? config.SYNTHIANS_API_TOKEN;
    const guarded = !isLoopback(host);
    if (guarded && !token) {
      throw new ConfigError(
        `Refusing to serve Wyoming on ${host} without a token: set SYNTHIANS_API_TOKEN (and WYOMING_TOKEN for a separate Wyoming token)`,
        [
          {
            variable: 'WYOMING_TOKEN',
            message: 'required (or SYNTHIANS_API_TOKEN) when HOST is not loopback',
          },
        ],
      );
    }
    const allowed = new ClientAllowList(config.WYOMING_ALLOWED_CLIENTS);
    const authTimeoutMs = config.WYOMING_AUTH_TIMEOUT_MS;
    if (guarded) {
      logger.info(
        {
          host,
          allowedClients: allowed.entries,
          tokenVariable: config.WYOMING_TOKEN ? 'WYOMING_TOKEN' : 'SYNTHIANS_API_TOKEN',
        },
        'Wyoming beyond loopback: clients send an auth event first, or connect from WYOMING_ALLOWED_CLIENTS',
      );
    } else if (allowed.size > 0 || config.WYOMING_TOKEN) {
      logger.info(
        { host },
        'Wyoming on loopback asks no authentication: WYOMING_TOKEN and WYOMING_ALLOWED_CLIENTS apply off loopback',
      );
    }

    const stt = sttFromSettings(config);
    const tts = ttsFromSettings(config);
    const wake = await wakeFromSettings(config, logger);
    const pool = new SileroPool(config.WYOMING_MAX_CONNECTIONS + 4);
    const engines: WyomingEngines = {
      stt,
      tts,
      wake,
      vad: { acquire: () => pool.acquire(), release: (v) => pool.release(v), config: vadConfigFrom(config) },
    };

    const sockets = new Set<net.Socket>();
    const app = await createApp({
      ...http,
      service: name,
      logger,
      bodyLimit: config.MAX_BODY_BYTES,
      token: config.SYNTHIANS_API_TOKEN,
      description:
        'Synthians Wyoming server: speak the Wyoming protocol (TCP) on this port; HTTP here serves health and metrics.',
      health: async (): Promise<HealthReport> => {
        const [s, t] = await Promise.all([stt.check(), tts.check()]);
        const st = (ok: boolean): HealthStatus => (ok ? 'healthy' : 'degraded');
        const checks: HealthReport['checks'] = {
          stt: { status: st(s.ok), provider: stt.name, ...(s.detail ? { detail: s.detail } : {}) },
          tts: { status: st(t.ok), provider: tts.name, ...(t.detail ? { detail: t.detail } : {}) },
          wake: { status: 'healthy', models: wake?.models ?? [] },
        };
        const degraded = !s.ok || !t.ok;
        return { status: degraded ? 'degraded' : 'healthy', checks, connections: sockets.size };
      },
    });
    const events = new Counter({
      name: 'wyoming_events_total',
      help: 'Wyoming events received, by type',
      labelNames: ['type'],
      registers: [app.metricsRegistry],
    });
    new Gauge({
      name: 'wyoming_connections',
      help: 'Open Wyoming connections',
      registers: [app.metricsRegistry],
      collect() {
        this.set(sockets.size);
      },
    });
    const refused = new Counter({
      name: 'wyoming_unauthorized_total',
      help: 'Wyoming connections refused for want of authentication, by reason (missing, wrong, invalid, timeout)',
      labelNames: ['reason'],
      registers: [app.metricsRegistry],
    });
    const known = new Set([
      'auth',
      'describe',
      'ping',
      'transcribe',
      'detect',
      'audio-start',
      'audio-chunk',
      'audio-stop',
      'synthesize',
      'synthesize-start',
      'synthesize-chunk',
      'synthesize-stop',
    ]);

    const server = net.createServer((socket) => {
      if (sockets.size >= config.WYOMING_MAX_CONNECTIONS) {
        socket.end(
          JSON.stringify({
            type: 'error',
            data: { text: 'Too many connections', code: 'too_many_connections' },
          }) + '\n',
        );
        return;
      }
      sockets.add(socket);
      // Off loopback, everyone authenticates but the allow-listed, and has WYOMING_AUTH_TIMEOUT_MS to do so.
      const mustAuthenticate = guarded && !allowed.allows(socket.remoteAddress);
      const refuse = (reason: 'missing' | 'wrong' | 'invalid' | 'timeout'): void => {
        refused.inc({ reason });
        logger.info(
          { remote: socket.remoteAddress, reason },
          'wyoming: connection refused (not authenticated)',
        );
      };
      const timer = mustAuthenticate
        ? setTimeout(() => {
            refuse('timeout');
            closeWyomingConnection(socket, {
              type: 'error',
              data: { text: `Not authenticated within ${authTimeoutMs} ms`, code: 'unauthorized' },
            });
          }, authTimeoutMs)
        : undefined;
      socket.on('close', () => {
        clearTimeout(timer);
        sockets.delete(socket);
      });
      socket.on('error', () => socket.destroy());
      socket.once('data', (head: Buffer) => {
        socket.pause();
        if (head[0] === 0x7b /* { */) {
          socket.setNoDelay(true);
          void serveWyomingConnection(
            socket,
            {
              engines,
              version: VERSION,
              ttsSampleRate: config.WYOMING_TTS_RATE,
              chunkSamples: 1024,
              logger,
              limits: { maxPayloadBytes: config.MAX_AUDIO_BYTES },
              onEvent: (type) => events.inc({ type: known.has(type) ? type : 'other' }),
              auth: mustAuthenticate
                ? {
                    token: token ?? '', // never empty here (refused above); empty would refuse everyone
                    onAuthenticated: () => clearTimeout(timer),
                    onRefused: (reason) => {
                      clearTimeout(timer);
                      refuse(reason);
                    },
                  }
                : undefined,
            },
            new Uint8Array(head),
          );
        } else {
          // HTTP: the app's own bearer-token check (all but /health and /ready) and timeouts apply.
          clearTimeout(timer);
          socket.unshift(head);
          app.server.emit('connection', socket);
          socket.resume();
        }
      });
    });

    return {
      name,
      app,
      host,
      port,
      async bind() {
        await app.ready();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        const address = server.address();
        return typeof address === 'object' && address ? address.port : port;
      },
      async close() {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        await Promise.allSettled([stt.close(), tts.close(), pool.close()]);
      },
    };
  },
};
