// Test helpers: a real DreamWorld agent on free loopback ports (HTTP and ZeroMQ PUB) in front of the real memory core
// and neural memory of the orchestrator's test stack, a ZeroMQ subscriber, and a pausable proxy.
import { createServer, request as httpRequest, type Server } from 'node:http';
import * as zmq from 'zeromq';
import { startTestService, type Bus, type TestService } from '@synthians/kit';
import { dreamworldService, type DreamworldInstance } from './service.ts';

export interface TestDreamworld extends TestService {
  pubPort: number;
}

export async function startDreamworld(
  env: Record<string, string>,
  options: { dir?: string; bus?: Bus } = {},
): Promise<TestDreamworld> {
  const service = await startTestService(dreamworldService, {
    env: {
      DREAM_PUB_PORT: '0',
      DREAM_IDLE_MS: '0',
      UPSTREAM_TIMEOUT_MS: '5000',
      HEALTH_TIMEOUT_MS: '500',
      ...env,
    },
    dir: options.dir,
    bus: options.bus,
  });
  return { ...service, pubPort: (service.instance as DreamworldInstance).pubPort()! };
}

export interface TestSubscriber {
  messages: { topic: string; body: Record<string, unknown> }[];
  /** Every frame received, as text (topics and JSON bodies alike). */
  frames: string[];
  /** Resolves with the first message on `topic` matching `where` (already received or to come). */
  next(
    topic: string,
    where?: (body: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  close(): void;
}

/**
 * A ZeroMQ subscriber on 127.0.0.1:`port`: anonymous (ZeroMQ's NULL mechanism) unless `curve` gives the server's
 * public key (and optionally this client's key pair; a fresh one otherwise).
 */
export async function subscribe(
  port: number,
  topics: string[] = ['dream.'],
  curve?: { serverKey: string; publicKey?: string; secretKey?: string },
): Promise<TestSubscriber> {
  const pair =
    curve?.publicKey && curve.secretKey
      ? { publicKey: curve.publicKey, secretKey: curve.secretKey }
      : zmq.curveKeyPair();
  const socket = new zmq.Subscriber({
    linger: 0,
    ...(curve
      ? { curveServerKey: curve.serverKey, curvePublicKey: pair.publicKey, curveSecretKey: pair.secretKey }
      : {}),
  });
  socket.connect(`tcp://127.0.0.1:${port}`);
  for (const t of topics) socket.subscribe(t);
  const messages: TestSubscriber['messages'] = [];
  const frames: string[] = [];
  void (async () => {
    try {
      for await (const received of socket) {
        for (const f of received) frames.push(f.toString());
        const [topic, body] = received;
        messages.push({
          topic: topic!.toString(),
          body: JSON.parse(body!.toString()) as Record<string, unknown>,
        });
      }
    } catch {
      /* closed */
    }
  })();
  // ZeroMQ's slow joiner: a subscription reaches the publisher shortly after connect.
  await new Promise((r) => setTimeout(r, 300));
  return {
    messages,
    frames,
    async next(topic, where = () => true, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = messages.find((x) => x.topic === topic && where(x.body));
        if (m) return m.body;
        if (Date.now() > deadline) throw new Error(`no ${topic} message within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => socket.close(),
  };
}

/** An HTTP proxy in front of `target` that can hold every request until released (to keep a cycle running). */
export async function pausableProxy(
  target: string,
): Promise<{ url: string; pause(): void; resume(): void; close(): Promise<void> }> {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (gate) await gate;
      const upstream = httpRequest(target + req.url, { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => {
        res.writeHead(502).end();
      });
      req.pipe(upstream);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    pause() {
      gate ??= new Promise((r) => (open = r));
    },
    resume() {
      open?.();
      gate = undefined;
    },
    async close() {
      open?.();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
