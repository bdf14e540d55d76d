// The Wyoming server (port 10300): our VAD, wake word, speech to text and text to speech for Home Assistant and
// wyoming-satellite devices. The same port answers HTTP (/health, /metrics, …): a connection whose first byte
// is `{` speaks Wyoming, anything else is handed to the HTTP server.
import net from 'node:net';
import {
  createApp,
  type HealthReport,
  type HealthStatus,
  type ServiceContext,
  serviceSetup,
  type ServiceDefinition,
  type ServiceInstance,
} from '@synthians/kit';
import { Counter, Gauge } from 'prom-client';
import { serveWyomingConnection, type WyomingEngines } from '../wyoming/server.ts';
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
    // Wyoming has no authentication: off loopback, a token is required for HTTP (assertSafeBinding) and the
    // operator is warned that the Wyoming side is open to whoever can reach the port.
    if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
      logger.warn(
        { host },
        'Wyoming has no authentication: restrict who can reach this port (firewall, network)',
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
    const known = new Set([
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
      socket.on('close', () => sockets.delete(socket));
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
            },
            new Uint8Array(head),
          );
        } else {
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
