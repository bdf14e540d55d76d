// Durability, as an attack: the real service in a child process is killed with SIGKILL while clients write, twice,
// and each restart must hold exactly the state of a process that applied the same acknowledged changes without a
// crash. Also: a torn or corrupt last log record, the snapshot schedule across restarts, the runtime variant.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { jsonClient, type JsonResponse } from '@synthians/kit';
import { SMALL, startNm, tempDir, vec, type TestNm } from './service-test-support.ts';
import { encodeRecord, RecordOp } from './update-log.ts';

const cli = new URL('../../synthians/bin/synthians.js', import.meta.url).pathname;
type Request = (method: string, path: string, body?: unknown) => Promise<JsonResponse>;

// Snapshots every 25 logged changes, so a crash lands between snapshots and the replay starts from one.
const ENV = { ...SMALL, NM_SNAPSHOT_EVERY_UPDATES: '25', NM_AUTOSAVE_INTERVAL_MS: '0' };

function spawnNm(dataDir: string) {
  const child = spawn(
    process.execPath,
    [cli, 'serve', 'neural-memory', '--port', '0', '--data-dir', dataDir],
    {
      env: { ...process.env, ...ENV, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`neural memory exited early with ${code}`)));
  });
  return { child, url, exited };
}

// ---- the workload: per namespace, a deterministic sequence of changes, each sent after the previous one's reply --
const NAMESPACES = ['a', 'b', 'c', 'seq'];
const VARIANTS = ['MAG', 'MAL', 'NONE', 'MAC'];

function op(ns: string, k: number): { path: string; body: Record<string, unknown> } {
  if (k % 41 === 40)
    return { path: '/config', body: { namespace: ns, variant: VARIANTS[Math.floor(k / 41) % 4] } };
  if (k % 89 === 88) return { path: '/reset', body: { namespace: ns } };
  return {
    path: '/update_memory',
    body: { namespace: ns, input_embedding: vec(1000 * (ns.charCodeAt(0) + ns.length) + k) },
  };
}

/** Changes that are acknowledged before the streams start (and applied first by the control). */
async function setup(request: Request): Promise<void> {
  assert.equal((await request('POST', '/config', { variant: 'MAC' })).status, 200);
  const init = await request('POST', '/init', { namespace: 'seq', config: { mode: 'sequence' }, seed: 3 });
  assert.equal(init.status, 200, JSON.stringify(init.body));
}

/** The state of a namespace as the API shows it: step, variant and what three probes retrieve (exact floats). */
async function fingerprint(request: Request, ns: string) {
  const probes = [];
  for (const p of [9001, 9002, 9003]) {
    const r = await request('POST', '/retrieve', { namespace: ns, input_embedding: vec(p) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    probes.push(r.body.retrieved_embedding);
  }
  const status = await request('GET', '/status');
  const entry = (status.body.namespaces as { namespace: string; step: number; variant: string }[]).find(
    (n) => n.namespace === ns,
  );
  return { step: entry?.step, variant: entry?.variant, probes };
}

describe('kill -9 while writing', () => {
  const dir = tempDir('synthians-nm-crash-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every acknowledged change survives two SIGKILLs; the state equals a process that never crashed', async () => {
    const done = new Map<string, number>(NAMESPACES.map((n) => [n, 0])); // acknowledged changes per namespace
    let burstAcked = 0;
    let control: TestNm | undefined;
    try {
      control = await startNm(ENV, { dir: join(dir, 'control') });
      await setup(control.request);
      const controlDone = new Map<string, number>(NAMESPACES.map((n) => [n, 0]));

      for (let cycle = 0; cycle < 2; cycle++) {
        const victim = spawnNm(join(dir, 'victim'));
        const request = jsonClient(await victim.url);
        if (cycle === 0) await setup(request);
        let stop = false;
        const writer = async (ns: string) => {
          while (!stop) {
            const { path, body } = op(ns, done.get(ns)!);
            let r: JsonResponse;
            try {
              r = await request('POST', path, body);
            } catch (err) {
              if (stop) return; // killed mid-request: not acknowledged
              throw err;
            }
            assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
            assert.equal(r.body.durable, true, `${path} says durable`);
            done.set(ns, done.get(ns)! + 1);
          }
        };
        // eight concurrent writers on one namespace: their records share syncs (group commit)
        const burst = async (w: number) => {
          for (let i = 0; !stop; i++) {
            try {
              const r = await request('POST', '/update_memory', {
                namespace: 'burst',
                input_embedding: vec(50_000 + w * 10_000 + i),
              });
              if (r.status === 200) burstAcked++;
            } catch {
              return;
            }
          }
        };
        const writers = [...NAMESPACES.map(writer), ...Array.from({ length: 8 }, (_, w) => burst(w))];
        const target = [...done.values()].reduce((a, b) => a + b, 0) + 240;
        const deadline = Date.now() + 30_000;
        while ([...done.values()].reduce((a, b) => a + b, 0) < target && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 10));
        stop = true; // writers send nothing new; what is in flight now is cut off by the kill
        victim.child.kill('SIGKILL');
        await victim.exited;
        await Promise.all(writers);

        // Restart on the same data directory; compare with the control after the same acknowledged changes.
        const restarted = spawnNm(join(dir, 'victim'));
        const again = jsonClient(await restarted.url);
        try {
          for (const ns of NAMESPACES) {
            const acked = done.get(ns)!;
            for (let k = controlDone.get(ns)!; k < acked; k++) {
              const { path, body } = op(ns, k);
              assert.equal((await control.request('POST', path, body)).status, 200);
            }
            controlDone.set(ns, acked);
            const got = await fingerprint(again, ns);
            let want = await fingerprint(control.request, ns);
            if (JSON.stringify(got) !== JSON.stringify(want)) {
              // the change in flight at the kill may have reached the log before its reply: then it is there too
              const { path, body } = op(ns, acked);
              await control.request('POST', path, body);
              controlDone.set(ns, acked + 1);
              done.set(ns, acked + 1);
              want = await fingerprint(control.request, ns);
            }
            assert.deepEqual(
              got,
              want,
              `namespace ${ns} after ${acked} acknowledged changes (cycle ${cycle + 1})`,
            );
          }
          const status = (await again('GET', '/status')).body.namespaces as {
            namespace: string;
            step: number;
          }[];
          const burstStep = status.find((n) => n.namespace === 'burst')?.step ?? 0;
          assert.ok(
            burstStep >= burstAcked,
            `burst: ${burstStep} writes restored, ${burstAcked} acknowledged`,
          );
          burstAcked = burstStep;
          const config = await again('GET', '/config');
          assert.equal(config.body.runtime.variant, 'MAC', 'the runtime-wide variant survived');
          for (const f of readdirSync(join(dir, 'victim', 'neural-memory')).filter((f) => f.endsWith('.wal')))
            assert.equal(
              statSync(join(dir, 'victim', 'neural-memory', f)).size,
              0,
              `${f} replayed and snapshotted at start-up`,
            );
        } finally {
          restarted.child.kill('SIGKILL');
          await restarted.exited;
        }
      }
      assert.ok(
        [...done.values()].every((n) => n > 50),
        `enough changes acknowledged: ${[...done.entries()].join(' ')}`,
      );
    } finally {
      await control?.stop();
    }
  });
});

describe('crash images (the data directory copied while the service runs, as a kill -9 leaves it)', () => {
  const dir = tempDir('synthians-nm-image-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a torn or corrupt last log record is dropped; everything acknowledged before it is restored', async () => {
    const env = { NM_SNAPSHOT_EVERY_UPDATES: '0' };
    const live = await startNm(env, { dir: join(dir, 'live') });
    try {
      for (let i = 0; i < 10; i++)
        assert.equal(
          (await live.request('POST', '/update_memory', { namespace: 't', input_embedding: vec(i) })).status,
          200,
        );
      const want = await fingerprint(live.request, 't');
      const half = encodeRecord(
        12,
        Date.now(),
        RecordOp.update,
        new Uint8Array(new Float32Array(vec(99)).buffer),
      );
      const cases: [string, Buffer][] = [
        ['torn', half.subarray(0, 50)],
        ['corrupt', Buffer.from(half.map((b, i) => (i === 60 ? b ^ 1 : b)))],
      ];
      for (const [what, tail] of cases) {
        const image = join(dir, what);
        cpSync(join(dir, 'live'), image, { recursive: true });
        const wal = join(image, 'neural-memory', 't.wal');
        assert.ok(
          !existsSync(join(image, 'neural-memory', 't.nm')),
          'no snapshot yet: the state is all in the log',
        );
        appendFileSync(wal, tail);
        const restored = await startNm(env, { dir: image });
        try {
          assert.deepEqual(
            await fingerprint(restored.request, 't'),
            want,
            `${what}: the ten updates, not the eleventh`,
          );
          assert.equal(statSync(wal).size, 0, `${what}: replayed, snapshotted, log emptied`);
          const next = await restored.request('POST', '/update_memory', {
            namespace: 't',
            input_embedding: vec(10),
          });
          assert.equal(next.body.step, 11, `${what}: writes go on after the recovery`);
        } finally {
          await restored.stop();
        }
      }
    } finally {
      await live.stop();
    }
  });

  test('the runtime-wide variant is in the image; runtime-only options say they are not durable', async () => {
    const live = await startNm({}, { dir: join(dir, 'v-live') });
    try {
      await live.request('POST', '/update_memory', { namespace: 'v', input_embedding: vec(1) });
      const sw = await live.request('POST', '/config', { variant: 'MAG' });
      assert.equal(sw.body.durable, true);
      const logOnly = await live.request('POST', '/config', { log_level: 'warn' });
      assert.equal(logOnly.body.durable, false, 'a log level lasts until the process stops');
      assert.deepEqual(logOnly.body.runtime_only, ['log_level']);
      cpSync(join(dir, 'v-live'), join(dir, 'v-image'), { recursive: true });
    } finally {
      await live.stop();
    }
    const restored = await startNm({}, { dir: join(dir, 'v-image') });
    try {
      assert.equal((await restored.request('GET', '/config')).body.runtime.variant, 'MAG');
      const v = await restored.request('POST', '/retrieve', { namespace: 'v', input_embedding: vec(1) });
      assert.equal(v.body.variant, 'MAG', 'the loaded namespace took the switch');
      const fresh = await restored.request('POST', '/retrieve', {
        namespace: 'new',
        input_embedding: vec(1),
      });
      assert.equal(fresh.body.variant, 'MAG', 'new namespaces take it');
    } finally {
      await restored.stop();
    }
  });
});

describe('snapshot schedule', () => {
  const dir = tempDir('synthians-nm-schedule-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  const logged = async (nm: TestNm, ns: string) =>
    (
      (await nm.request('GET', '/status')).body.namespaces as {
        namespace: string;
        logged_since_snapshot: number;
      }[]
    ).find((n) => n.namespace === ns)?.logged_since_snapshot;

  test('by count: a snapshot every NM_SNAPSHOT_EVERY_UPDATES logged changes empties the log', async () => {
    const nm = await startNm({ NM_SNAPSHOT_EVERY_UPDATES: '5' }, { dir: join(dir, 'count') });
    try {
      for (let i = 0; i < 12; i++)
        await nm.request('POST', '/update_memory', { namespace: 'n', input_embedding: vec(i) });
      const deadline = Date.now() + 3000;
      while ((await logged(nm, 'n'))! >= 5 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      // 13 records (the namespace's creation, then 12 updates), a snapshot whenever 5 have accumulated
      assert.ok((await logged(nm, 'n'))! < 5, `logged since snapshot: ${await logged(nm, 'n')}`);
      assert.ok(existsSync(join(dir, 'count', 'neural-memory', 'n.nm')));
    } finally {
      await nm.stop();
    }
  });

  test('by time, from the snapshot’s own timestamp: a restart does not postpone it', async () => {
    const env = { NM_AUTOSAVE_INTERVAL_MS: '2000', NM_SNAPSHOT_EVERY_UPDATES: '0' };
    const first = await startNm(env, { dir: join(dir, 'time') });
    await first.request('POST', '/update_memory', { namespace: 'old', input_embedding: vec(1) });
    await first.request('POST', '/save', { namespace: 'old' });
    const savedAt = Date.now();
    await first.stop();
    await new Promise((r) => setTimeout(r, Math.max(0, savedAt + 2100 - Date.now())));
    const second = await startNm(env, { dir: join(dir, 'time') });
    const started = Date.now();
    try {
      await second.request('POST', '/update_memory', { namespace: 'old', input_embedding: vec(2) });
      while ((await logged(second, 'old')) !== 0 && Date.now() - started < 5000)
        await new Promise((r) => setTimeout(r, 10));
      const took = Date.now() - started;
      assert.equal(await logged(second, 'old'), 0, 'snapshotted');
      // a timer restarted with the process would snapshot 2000 ms after the start
      assert.ok(took < 1500, `snapshotted ${took} ms after the restart`);
    } finally {
      await second.stop();
    }
  });
});
