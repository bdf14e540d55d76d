// Durability: acknowledged writes survive kill -9; memories, scores, assemblies and the index survive restarts;
// a missing or corrupt index snapshot is rebuilt from the store.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startCore, tempDir, unitVector } from './test-support.ts';

const root = new URL('../../../', import.meta.url).pathname;
const cli = join(root, 'packages/synthians/bin/synthians.js');

function spawnCore(dir: string) {
  const child = spawn(process.execPath, [cli, 'serve', 'memory-core', '--port', '0'], {
    env: { ...process.env, MEMORY_STORAGE_PATH: dir, LOG_LEVEL: 'warn', MEMORY_SYNC: 'full' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  });
  return { child, url };
}

describe('kill -9 during ingest', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every acknowledged id is there after restart, in the store and the index', async () => {
    const first = spawnCore(join(dir, 'core'));
    const url = await first.url;
    const acknowledged = new Map<string, number>();
    let stop = false;
    let seed = 0;
    const writer = async () => {
      while (!stop) {
        const s = ++seed;
        try {
          const res = await fetch(`${url}/v1/memories`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              content: `crash test memory ${s}`,
              embedding: unitVector(s),
              metadata: { seed: s },
            }),
          });
          if (res.status === 201) acknowledged.set(((await res.json()) as { id: string }).id, s);
        } catch {
          return; // the server is gone
        }
      }
    };
    const batcher = async () => {
      while (!stop) {
        const base = 1_000_000 + ++seed * 100;
        const memories = Array.from({ length: 50 }, (_, i) => ({
          content: `batch ${base + i}`,
          embedding: unitVector(base + i),
          metadata: { seed: base + i },
        }));
        try {
          const res = await fetch(`${url}/v1/memories/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ memories }),
          });
          if (res.status === 201) {
            const body = (await res.json()) as { items: { id: string }[] };
            body.items.forEach((item, i) => acknowledged.set(item.id, base + i));
          }
        } catch {
          return;
        }
      }
    };
    const writers = [writer(), writer(), writer(), writer(), batcher()];
    // Kill mid-stream, once a fair number of writes were acknowledged (bounded wait on a loaded machine).
    const deadline = Date.now() + 30_000;
    while (acknowledged.size < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    stop = true;
    await Promise.all(writers);
    assert.ok(acknowledged.size > 50, `only ${acknowledged.size} writes were acknowledged before the kill`);

    const second = spawnCore(join(dir, 'core'));
    const url2 = await second.url;
    try {
      const stats = (await (await fetch(`${url2}/v1/stats`)).json()) as {
        memory_count: number;
        index_size: number;
      };
      assert.ok(
        stats.memory_count >= acknowledged.size,
        `store has ${stats.memory_count} < ${acknowledged.size} acknowledged`,
      );
      assert.equal(stats.index_size, stats.memory_count, 'the index caught up with the store');
      const missing: string[] = [];
      for (const id of acknowledged.keys()) {
        const res = await fetch(`${url2}/v1/memories/${id}`);
        if (res.status !== 200) missing.push(id);
      }
      assert.deepEqual(missing, [], 'acknowledged memories missing after kill -9');
      // The index finds acknowledged memories by their own embedding.
      const sample = [...acknowledged.entries()].slice(-20);
      for (const [id, s] of sample) {
        const res = await fetch(`${url2}/v1/search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ embedding: unitVector(s), mode: 'vector', top_k: 1, track_access: false }),
        });
        const body = (await res.json()) as { results: { id: string }[] };
        assert.equal(body.results[0]?.id, id, 'vector search finds the memory after recovery');
      }
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  });
});

describe('restart persistence', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('memories, scores, surprise events, assemblies and the index survive a restart', async () => {
    const core = await startCore({}, { dir });
    const base = unitVector(7);
    const near = (i: number) => {
      const v = base.map((x, j) => x + 0.02 * unitVector(100 + i)[j]!);
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const created = await core.request('POST', '/v1/memories/batch', {
      memories: Array.from({ length: 6 }, (_, i) => ({
        content: `garden roses note ${i}`,
        embedding: near(i),
        tags: ['garden'],
      })),
    });
    assert.equal(created.status, 201);
    const ids = (created.body.items as { id: string }[]).map((x) => x.id);
    const boosted = await core.request('POST', `/v1/memories/${ids[0]}/boost`, {
      delta: 0.2,
      reason: 'surprise',
    });
    assert.equal(boosted.status, 200);
    const before = await core.request('GET', `/v1/memories/${ids[0]}`);
    const assembliesBefore = await core.request('GET', '/v1/assemblies');
    assert.ok(assembliesBefore.body.items.length >= 1, 'near-duplicates formed an assembly');
    await core.stop();
    assert.ok(existsSync(join(dir, 'memory-core', 'vectors.usearch')), 'a snapshot was written at shutdown');

    const again = await startCore({}, { dir });
    try {
      const after = await again.request('GET', `/v1/memories/${ids[0]}`);
      assert.equal(after.status, 200);
      assert.equal(after.body.quickrecal_stored, before.body.quickrecal_stored);
      assert.equal(after.body.surprise_events.length, 1);
      assert.equal(after.body.surprise_events[0].reason, 'surprise');
      assert.deepEqual(after.body.tags, ['garden']);
      const assembliesAfter = await again.request('GET', '/v1/assemblies');
      assert.deepEqual(
        assembliesAfter.body.items.map((a: { id: string; member_count: number }) => [a.id, a.member_count]),
        assembliesBefore.body.items.map((a: { id: string; member_count: number }) => [a.id, a.member_count]),
      );
      // Relevance also weighs QuickRecal, so look at similarity: the exact vector is found with cosine 1.
      const search = await again.request('POST', '/v1/search', {
        embedding: near(3),
        mode: 'vector',
        top_k: 6,
      });
      const best = [...search.body.results].sort(
        (a: { similarity: number }, b: { similarity: number }) => b.similarity - a.similarity,
      )[0];
      assert.equal(best.id, ids[3]);
      assert.ok(best.similarity > 0.9999, `similarity ${best.similarity}`);
    } finally {
      await again.stop();
    }
  });

  test('a corrupt or missing snapshot is rebuilt from the store, losing nothing', async () => {
    writeFileSync(join(dir, 'memory-core', 'vectors.usearch'), 'garbage');
    const rebuilt = await startCore({}, { dir });
    try {
      const stats = await rebuilt.request('GET', '/v1/stats');
      assert.equal(stats.body.memory_count, 6);
      assert.equal(stats.body.index_size, 6);
      const search = await rebuilt.request('POST', '/v1/search', {
        query: 'roses',
        mode: 'hybrid',
        top_k: 10,
      });
      assert.equal(search.body.results.length, 6);
    } finally {
      await rebuilt.stop();
    }
    rmSync(join(dir, 'memory-core', 'vectors.usearch'));
    rmSync(join(dir, 'memory-core', 'vectors.json'));
    const again = await startCore({}, { dir });
    try {
      const stats = await again.request('GET', '/v1/stats');
      assert.equal(stats.body.index_size, 6, 'index rebuilt after the snapshot was deleted');
    } finally {
      await again.stop();
    }
  });
});
