// The message bus between services: in-process by default (everything in one `synthians up`), NATS when
// NATS_URL is set (services in separate processes or containers). Both speak NATS subject semantics: tokens
// separated by `.`, `*` matches one token, `>` matches the rest. Payloads are bytes; objects are sent as JSON.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from './logger.ts';

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  /** The payload parsed as JSON (throws SyntaxError when it is not JSON). */
  json<T = unknown>(): T;
}

export type BusHandler = (message: BusMessage) => void | Promise<void>;

export interface Bus {
  readonly kind: 'memory' | 'nats';
  /** Publishes bytes as they are, anything else as JSON. Never throws for a valid subject. */
  publish(subject: string, data: Uint8Array | object): void;
  /** Subscribes to a subject or wildcard pattern; returns the unsubscribe function. */
  subscribe(subject: string, handler: BusHandler): () => void;
  /** Resolves when everything published so far has been handed to subscribers / the server. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

const TOKEN = /^[^\s.*>]+$/;

/** Throws unless `subject` is a valid NATS subject (`wildcards` allows `*` and a final `>`). */
export function assertSubject(subject: string, wildcards = false): void {
  const tokens = subject.split('.');
  const ok = tokens.every((t, i) => {
    if (TOKEN.test(t)) return true;
    if (!wildcards) return false;
    return t === '*' || (t === '>' && i === tokens.length - 1);
  });
  if (!ok || subject.length === 0) throw new RangeError(`Invalid bus subject ${JSON.stringify(subject)}`);
}

/** NATS wildcard matching: `*` one token, `>` one or more trailing tokens. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

function encode(data: Uint8Array | object): Uint8Array {
  return data instanceof Uint8Array ? data : textEncoder.encode(JSON.stringify(data));
}

function message(subject: string, data: Uint8Array): BusMessage {
  return { subject, data, json: <T>() => JSON.parse(textDecoder.decode(data)) as T };
}

/** In-process bus: delivery is asynchronous (a publisher never runs subscriber code) and in order. */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly subs = new Set<{ pattern: string; handler: BusHandler }>();
  private pending: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly logger?: Logger) {}

  publish(subject: string, data: Uint8Array | object): void {
    assertSubject(subject);
    if (this.closed) return;
    const bytes = encode(data);
    const targets = [...this.subs].filter((s) => subjectMatches(s.pattern, subject));
    if (targets.length === 0) return;
    this.pending = this.pending.then(async () => {
      for (const t of targets) {
        if (!this.subs.has(t)) continue;
        try {
          await t.handler(message(subject, bytes));
        } catch (err) {
          this.logger?.warn({ err, subject }, 'bus subscriber failed');
        }
      }
    });
  }

  subscribe(subject: string, handler: BusHandler): () => void {
    assertSubject(subject, true);
    const sub = { pattern: subject, handler };
    this.subs.add(sub);
    return () => {
      this.subs.delete(sub);
    };
  }

  flush(): Promise<void> {
    return this.pending;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pending;
    this.subs.clear();
  }
}

/** The NATS bus (core NATS publish/subscribe; at-most-once, like the in-process bus). */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly logger?: Logger,
  ) {}

  static async connect(
    url: string,
    options: { name?: string; token?: string; logger?: Logger; timeoutMs?: number } = {},
  ): Promise<NatsBus> {
    const nc = await connect({
      servers: url.split(',').map((s) => s.trim()),
      name: options.name,
      token: options.token,
      timeout: options.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
    });
    return new NatsBus(nc, options.logger);
  }

  publish(subject: string, data: Uint8Array | object): void {
    assertSubject(subject);
    try {
      this.nc.publish(subject, encode(data));
    } catch (err) {
      // Closed or draining connection: the bus is best-effort, like core NATS itself.
      this.logger?.warn({ err, subject }, 'bus publish failed');
    }
  }

  subscribe(subject: string, handler: BusHandler): () => void {
    assertSubject(subject, true);
    // One message at a time per subscription, in arrival order (as on the in-process bus): a handler that
    // awaits does not let the next message overtake it.
    let chain: Promise<void> = Promise.resolve();
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.logger?.warn({ err, subject }, 'bus subscription error');
          return;
        }
        const m = message(msg.subject, msg.data);
        chain = chain
          .then(() => handler(m))
          .catch((e: unknown) =>
            this.logger?.warn({ err: e, subject: msg.subject }, 'bus subscriber failed'),
          );
      },
    });
    return () => sub.unsubscribe();
  }

  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}

/** NATS when `natsUrl` is given (e.g. from NATS_URL), otherwise the in-process bus. */
export async function createBus(
  options: { natsUrl?: string; name?: string; token?: string; logger?: Logger } = {},
): Promise<Bus> {
  if (options.natsUrl) return NatsBus.connect(options.natsUrl, options);
  return new MemoryBus(options.logger);
}
