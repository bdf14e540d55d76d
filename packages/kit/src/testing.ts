// Helpers for tests that talk to a real service over HTTP (shared by every package's test support).
import type { Bus } from './bus.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from './config.ts';
import { listen, stop } from './lifecycle.ts';
import { createLogger } from './logger.ts';
import type { ServiceDefinition, ServiceInstance } from './service.ts';

export interface JsonResponse {
  status: number;
  // Loosely typed: tests read many response shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** A JSON request function bound to a base URL; bodies that are strings are sent as they are. */
export function jsonClient(baseUrl: string) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON (NDJSON, metrics, HTML) */
    }
    return { status: res.status, body: parsed };
  };
}

/** A deterministic pseudo-random unit vector (xorshift32), for tests that supply embeddings. */
export function unitVector(seed: number, dim = 768): number[] {
  let s = (seed * 2654435761) >>> 0 || 1;
  const v: number[] = [];
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const x = s / 4294967296 - 0.5;
    v.push(x);
    norm += x * x;
  }
  return v.map((x) => x / Math.sqrt(norm));
}

export interface TestService {
  url: string;
  /** The data directory (a new temporary one unless given). */
  dir: string;
  instance: ServiceInstance;
  request: ReturnType<typeof jsonClient>;
  stop(): Promise<void>;
  /** Stops, and removes the data directory if this helper made it. */
  destroy(): Promise<void>;
}

/** Starts a real service on a free loopback port, logging nothing unless TEST_LOG_LEVEL says so. */
export async function startTestService(
  definition: ServiceDefinition,
  opts: { env?: Env; dir?: string; options?: Record<string, string | undefined>; bus?: Bus } = {},
): Promise<TestService> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `synthians-${definition.name}-`));
  const instance = await definition.create({
    env: opts.env ?? {},
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    options: opts.options,
    bus: opts.bus,
    logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const { url } = await listen(instance);
  let stopped = false;
  const service: TestService = {
    url,
    dir,
    instance,
    request: jsonClient(url),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop(instance);
    },
    async destroy() {
      await service.stop();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return service;
}
