// Publishing: every event is recorded in the history, goes on the message bus as it is, and out on the ZeroMQ PUB
// socket as two frames (topic, JSON) — there without memory text unless DREAM_PUB_INCLUDE_TEXT, and with CURVE
// (plus a ZAP allow-list of subscriber keys) when configured.
import * as zmq from 'zeromq';
import { PortInUseError, type Bus, type Logger } from '@synthians/kit';
import { z85Decode, z85Encode, type CurveServer } from './curve.ts';
import type { History, Topic } from './history.ts';

/** The ZAP domain of the PUB socket (reported to the ZAP handler; only this socket lives in its context). */
const ZAP_DOMAIN = 'dreamworld.pub';
/** Denied subscriber keys are logged once each, up to this many, so a flood of attempts cannot flood the log. */
const MAX_DENIED_LOGGED = 100;

type Json = Record<string, unknown>;

const record = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;

/** An association's memory without its text: `{id, session_id, time}`. */
function memoryRef(v: unknown): unknown {
  const m = record(v);
  if (!m) return v;
  const { content: _content, ...rest } = m;
  void _content;
  return rest;
}

/**
 * What the PUB socket carries for an event. Without text: `dream.insight` loses its memories' `content`;
 * `dream.simulation` loses the preference evaluator's `statement` and `object` (both quoted from memories), keeping
 * memory ids, strengths and weights; `dream.cycle` carries ids, counts and times only already.
 */
export function networkPayload(topic: Topic, payload: Json, includeText: boolean): Json {
  if (includeText) return payload;
  switch (topic) {
    case 'dream.insight':
      return { ...payload, a: memoryRef(payload.a), b: memoryRef(payload.b) };
    case 'dream.simulation': {
      const evaluator = record(payload.evaluator);
      if (!evaluator || !Array.isArray(evaluator.weights)) return payload;
      const weights = (evaluator.weights as unknown[]).map((w) => {
        const weight = record(w);
        if (!weight || !Array.isArray(weight.matched)) return w;
        return {
          ...weight,
          matched: (weight.matched as unknown[]).map((m) => {
            const match = record(m);
            return match ? { memory_id: match.memory_id, strength: match.strength } : m;
          }),
        };
      });
      return { ...payload, evaluator: { ...evaluator, weights } };
    }
    case 'dream.cycle':
      return payload;
  }
}

export interface PublisherOptions {
  /** Send memory text on the PUB socket (DREAM_PUB_INCLUDE_TEXT). */
  includeText?: boolean;
}

export class Publisher {
  private socket: zmq.Publisher | undefined;
  private zap: zmq.Reply | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly includeText: boolean;
  endpoint: string | undefined;
  /** CURVE's server public key when the socket uses CURVE. */
  curvePublicKey: string | undefined;

  constructor(
    readonly history: History,
    private readonly logger: Logger,
    private readonly bus?: Bus,
    options: PublisherOptions = {},
  ) {
    this.includeText = options.includeText ?? false;
  }

  /**
   * Binds the PUB socket (port 0 = any free port), with CURVE when `curve` is given; returns the bound port. The
   * socket has a ZeroMQ context of its own, so that its ZAP handler answers for it alone.
   */
  async bind(host: string, port: number, curve?: CurveServer): Promise<number> {
    const context = new zmq.Context();
    if (curve && curve.clientKeys.length > 0) await this.startZap(context, curve.clientKeys);
    const socket = new zmq.Publisher({
      context,
      linger: 0,
      sendHighWaterMark: 10_000,
      ipv6: host.includes(':'),
      ...(curve ? { curveServer: true, curveSecretKey: curve.secretKey, zapDomain: ZAP_DOMAIN } : {}),
    });
    const h = host.includes(':') ? `[${host}]` : host;
    try {
      await socket.bind(`tcp://${h}:${port === 0 ? '*' : port}`);
    } catch (err) {
      socket.close();
      this.zap?.close();
      this.zap = undefined;
      if ((err as { code?: string }).code === 'EADDRINUSE')
        throw new PortInUseError('dreamworld (ZeroMQ PUB)', `${h}:${port}`, 'DREAM_PUB_PORT', '');
      throw err;
    }
    this.socket = socket;
    this.curvePublicKey = curve?.publicKey;
    this.endpoint = socket.lastEndpoint ?? undefined;
    const bound = Number(/:(\d+)$/.exec(this.endpoint ?? '')?.[1] ?? port);
    return bound;
  }

  /**
   * A ZAP handler (ZeroMQ RFC 27) that lets in only the listed CURVE client keys. ZeroMQ asks it during every CURVE
   * handshake on sockets of this context; a socket with no handler would accept any client.
   */
  private async startZap(context: zmq.Context, clientKeys: string[]): Promise<void> {
    const allowed = new Set(clientKeys.map((k) => z85Decode(k)!.toString('hex')));
    const zap = new zmq.Reply({ context, linger: 0 });
    await zap.bind('inproc://zeromq.zap.01');
    this.zap = zap;
    const denied = new Set<string>();
    void (async () => {
      try {
        for await (const frames of zap) {
          const [version, requestId, domain, address, , mechanism, key] = frames;
          const ok =
            domain?.toString() === ZAP_DOMAIN &&
            mechanism?.toString() === 'CURVE' &&
            key?.length === 32 &&
            allowed.has(key.toString('hex'));
          const clientKey = key?.length === 32 ? z85Encode(key) : null;
          if (!ok && clientKey !== null && !denied.has(clientKey) && denied.size < MAX_DENIED_LOGGED) {
            denied.add(clientKey);
            this.logger.warn(
              { client_key: clientKey, address: address?.toString() },
              'zeromq subscriber refused: its CURVE key is not in DREAM_PUB_CURVE_CLIENT_KEYS',
            );
          }
          await zap.send([
            version ?? '1.0',
            requestId ?? '',
            ok ? '200' : '400',
            ok ? 'OK' : 'client key not allowed',
            ok ? (clientKey ?? '') : '',
            '',
          ]);
        }
      } catch (err) {
        if (!zap.closed) this.logger.warn({ err }, 'zeromq ZAP handler stopped');
      }
    })();
  }

  get bound(): boolean {
    return this.socket !== undefined && !this.socket.closed;
  }

  get security(): 'curve' | 'none' {
    return this.curvePublicKey !== undefined ? 'curve' : 'none';
  }

  /**
   * Records the event (an id already recorded is not published again) and publishes it. Returns whether it was
   * new. Sends are serialised: a ZeroMQ socket takes one send at a time.
   */
  publish(topic: Topic, id: string, payload: Json, at = Date.now()): boolean {
    if (!this.history.record(topic, id, at, payload)) return false;
    // In-process and bus consumers get the event whole; the network socket gets the view without text.
    this.bus?.publish(topic, payload);
    const socket = this.socket;
    if (socket) {
      const json = JSON.stringify(networkPayload(topic, payload, this.includeText));
      this.chain = this.chain
        .then(() => socket.send([topic, json]))
        .catch((err: unknown) => this.logger.warn({ err, topic }, 'zeromq publish failed'));
    }
    return true;
  }

  async close(): Promise<void> {
    await this.chain;
    this.socket?.close();
    this.socket = undefined;
    this.zap?.close();
    this.zap = undefined;
  }
}
