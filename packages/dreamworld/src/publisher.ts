// Publishing: every event goes out on the ZeroMQ PUB socket as two frames (topic, JSON) and on the message bus
// under the same subject, after it is recorded in the history.
import * as zmq from 'zeromq';
import type { Bus, Logger } from '@synthians/kit';
import type { History, Topic } from './history.ts';

export class Publisher {
  private socket: zmq.Publisher | undefined;
  private chain: Promise<void> = Promise.resolve();
  endpoint: string | undefined;

  constructor(
    readonly history: History,
    private readonly logger: Logger,
    private readonly bus?: Bus,
  ) {}

  /** Binds the PUB socket (port 0 = any free port); returns the bound port. */
  async bind(host: string, port: number): Promise<number> {
    const socket = new zmq.Publisher({ linger: 0, sendHighWaterMark: 10_000 });
    const h = host.includes(':') ? `[${host}]` : host;
    await socket.bind(`tcp://${h}:${port === 0 ? '*' : port}`);
    this.socket = socket;
    this.endpoint = socket.lastEndpoint ?? undefined;
    const bound = Number(/:(\d+)$/.exec(this.endpoint ?? '')?.[1] ?? port);
    return bound;
  }

  get bound(): boolean {
    return this.socket !== undefined && !this.socket.closed;
  }

  /**
   * Records the event (an id already recorded is not published again) and publishes it. Returns whether it was
   * new. Sends are serialised: a ZeroMQ socket takes one send at a time.
   */
  publish(topic: Topic, id: string, payload: Record<string, unknown>, at = Date.now()): boolean {
    if (!this.history.record(topic, id, at, payload)) return false;
    const json = JSON.stringify(payload);
    this.bus?.publish(topic, payload);
    const socket = this.socket;
    if (socket) {
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
  }
}
