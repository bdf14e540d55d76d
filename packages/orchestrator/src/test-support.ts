// Test helpers: a real orchestrator on a free loopback port, in front of real memory cores and a real neural memory.
import { createLogger, listen, stop, type ServiceInstance } from '@synthians/kit';
import { startCore, type TestCore } from '../../memory-core/src/test-support.ts';
import { DIM, startNm, type TestNm } from '../../neural-memory/src/service-test-support.ts';
import { orchestratorService } from './service.ts';

export { DIM };

export interface TestOrchestrator {
  url: string;
  instance: ServiceInstance;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function request(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, headers: {} };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(url + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON (metrics) */
  }
  return { status: res.status, body: parsed };
}

export async function startOrchestrator(env: Record<string, string>): Promise<TestOrchestrator> {
  const instance = await orchestratorService.create({
    env: {
      MEMORY_CORE_TIMEOUT_MS: '3000',
      NEURAL_MEMORY_TIMEOUT_MS: '3000',
      HEALTH_TIMEOUT_MS: '500',
      ...env,
    },
    dataDir: '/nonexistent',
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
  const { url } = await listen(instance);
  let stopped = false;
  return {
    url,
    instance,
    request: (method, path, body) => request(url, method, path, body),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop(instance);
    },
  };
}

export interface Stack {
  core: TestCore;
  standby?: TestCore;
  nm: TestNm;
  orch: TestOrchestrator;
  destroy(): Promise<void>;
}

/** A memory core (EMBEDDING_DIM = the small neural memory's DIM), optionally a standby, a neural memory, an orchestrator. */
export async function startStack(
  options: { standby?: boolean; env?: Record<string, string>; nmEnv?: Record<string, string> } = {},
): Promise<Stack> {
  const core = await startCore({ EMBEDDING_DIM: String(DIM) });
  const standby = options.standby
    ? await startCore({ EMBEDDING_DIM: String(DIM), FOLLOW_POLL_WAIT_MS: '200' }, { follow: core.url })
    : undefined;
  const nm = await startNm(options.nmEnv ?? {});
  const orch = await startOrchestrator({
    MEMORY_CORE_URL: [core.url, ...(standby ? [standby.url] : [])].join(','),
    NEURAL_MEMORY_URL: nm.url,
    ...options.env,
  });
  return {
    core,
    standby,
    nm,
    orch,
    async destroy() {
      await orch.stop();
      await nm.destroy();
      // The primary first: it would wait for the standby's long poll otherwise.
      await core.destroy();
      await standby?.destroy();
    },
  };
}
