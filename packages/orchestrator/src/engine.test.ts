// The engine's scheduling with stub upstreams: no global lock across namespaces, order kept within one namespace.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@synthians/kit';
import { loadOrchestratorConfig } from './config.ts';
import { CascadeEngine } from './engine.ts';
import type { MemoryCoreClient, NeuralMemoryClient } from './clients.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stubs(delayOf: (namespace: string, content: string) => number) {
  const updates: { namespace: string; tag: string }[] = [];
  let n = 0;
  const contentOf = new Map<string, string>();
  const core = {
    urls: ['http://stub'],
    async write(path: string, body: Record<string, unknown>) {
      if (path === '/process_memory') {
        const id = `m${++n}`;
        contentOf.set(String(n), String(body.content));
        return {
          status: 200,
          url: 'stub',
          body: { memory_id: id, quickrecal_score: 0.5, embedding: [n, 1] },
        };
      }
      return { status: 200, url: 'stub', body: { previous_score: 0.5, new_score: 0.6 } };
    },
    async read() {
      return { status: 200, url: 'stub', body: { memories: [] } };
    },
  } as unknown as MemoryCoreClient;
  const nm = {
    url: 'http://stub',
    async post(path: string, body: { namespace: string; input_embedding: number[] }) {
      if (path === '/update_memory') {
        const content = contentOf.get(String(body.input_embedding[0]))!;
        await sleep(delayOf(body.namespace, content));
        updates.push({ namespace: body.namespace, tag: content });
        return { loss: 1, grad_norm: 1, surprise: 0.9, variant: 'MAG' };
      }
      if (path === '/retrieve') return { retrieved_embedding: [0, 1] };
      if (path === '/predict_next') return { predicted_embedding: [0, 1] };
      return {};
    },
  } as unknown as NeuralMemoryClient;
  const engine = new CascadeEngine({
    core,
    nm,
    config: loadOrchestratorConfig({ MEMORY_CORE_URL: 'http://stub', NEURAL_MEMORY_URL: 'http://stub' }),
    logger: createLogger('test', 'silent'),
  });
  return { engine, updates };
}

describe('CascadeEngine scheduling', () => {
  test('a slow namespace does not hold up another one', async () => {
    const { engine, updates } = stubs((ns) => (ns === 'slow' ? 300 : 1));
    const order: string[] = [];
    const slow = engine.process({ content: 'slow one', namespace: 'slow' }).then(() => order.push('slow'));
    const fast = engine.process({ content: 'fast one', namespace: 'fast' }).then(() => order.push('fast'));
    await Promise.all([slow, fast]);
    assert.deepEqual(order, ['fast', 'slow'], 'the fast namespace finished first');
    assert.equal(updates.length, 2);
  });

  test('within a namespace, cycles run one at a time in arrival order', async () => {
    // Earlier requests are slower: without the per-namespace chain they would finish out of order.
    const { engine, updates } = stubs((_ns, content) => 60 - Number(content.split(' ')[1]) * 10);
    const results = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => engine.process({ content: `msg ${i}`, namespace: 'one' })),
    );
    assert.deepEqual(
      updates.map((u) => u.tag),
      ['msg 0', 'msg 1', 'msg 2', 'msg 3', 'msg 4'],
    );
    assert.ok(
      results.every((r) => r.status === 'success'),
      'every cycle succeeded',
    );
    assert.equal(engine.counts.cycles, 5);
    assert.equal(engine.counts.in_flight, 0);
    await engine.idle();
  });
});
