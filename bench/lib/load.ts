// Loads synthetic memories into a running server by batch ingest. Each batch is generated and serialised just
// before it is sent, so the client prepares the next batch while the server works on the ones in flight.
import { expectStatus, request, runPool } from './http.ts';
import type { SyntheticData } from './data.ts';
import type { Server } from './server.ts';
import { cpuMeter, log, round } from './util.ts';

export interface LoadReport {
  memories: number;
  wall_s: number;
  memories_per_s: number;
  cpu: ReturnType<ReturnType<typeof cpuMeter>>;
}

export async function loadMemories(
  server: Server,
  data: SyntheticData,
  from: number,
  to: number,
  opts: { batch?: number; inFlight?: number; onChunk?: (start: number, clusters: Uint16Array) => void } = {},
): Promise<LoadReport> {
  const batch = opts.batch ?? 1000;
  const inFlight = opts.inFlight ?? 2;
  const batches = Math.ceil((to - from) / batch);
  const meter = cpuMeter(() => server.cpuMs());
  const t0 = performance.now();
  let done = 0;
  let lastLog = performance.now();
  await runPool(batches, inFlight, async (b) => {
    const start = from + b * batch;
    const count = Math.min(batch, to - start);
    const chunk = data.memories(start, count);
    opts.onChunk?.(start, chunk.clusters);
    const body = data.batchBody(chunk, 0, count);
    expectStatus(
      await request(server.url, 'POST', '/v1/memories/batch', body, { sockets: inFlight }),
      201,
      `batch at ${start}`,
    );
    done += count;
    if (performance.now() - lastLog > 5000 || done === to - from) {
      lastLog = performance.now();
      log(`stored ${from + done}/${to}`);
    }
  });
  const wall = (performance.now() - t0) / 1000;
  return {
    memories: to - from,
    wall_s: round(wall, 1),
    memories_per_s: Math.round((to - from) / wall),
    cpu: meter(),
  };
}
