// The neural memory HTTP service: endpoint contracts, bad input, persistence, namespaces and concurrency.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIM, startNm, tempDir, vec, type TestNm } from './service-test-support.ts';

const dist = (a: number[], b: number[]) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0));

async function stepOf(nm: TestNm, namespace = 'default'): Promise<number | undefined> {
  const s = await nm.request('GET', '/status');
  const entry = (s.body.namespaces as { namespace: string; step?: number }[]).find(
    (n) => n.namespace === namespace,
  );
  return entry?.step;
}

describe('neural memory service: endpoints', () => {
  let nm: TestNm;
  before(async () => {
    nm = await startNm();
  });
  after(async () => {
    await nm?.destroy();
  });

  test('update_memory writes and reports loss, surprise, gates and step', async () => {
    const r = await nm.request('POST', '/update_memory', { input_embedding: vec(1) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const b = r.body;
    assert.equal(b.status, 'success');
    assert.equal(b.namespace, 'default');
    assert.equal(b.step, 1);
    assert.equal(b.variant, 'NONE');
    for (const k of ['loss', 'grad_norm', 'surprise', 'raw_surprise'])
      assert.ok(typeof b[k] === 'number' && Number.isFinite(b[k]), `${k} is a finite number`);
    assert.ok(b.surprise >= 0 && b.surprise <= 1, 'surprise is normalised to [0, 1]');
    assert.ok(b.gates.alpha > 0 && b.gates.alpha < 1, 'alpha in (0, 1)');
    assert.ok(b.gates.theta > 0, 'theta positive');
    assert.ok(b.gates.eta > 0 && b.gates.eta < 1, 'eta in (0, 1)');
    const r2 = await nm.request('POST', '/update_memory', { input_embedding: vec(1) });
    assert.equal(r2.body.step, 2);
    assert.ok(r2.body.loss < b.loss, 'writing the same item again has a smaller loss');
  });

  test('update_memory_batch learns like the same updates one by one; a bad item changes nothing', async () => {
    const xs = [vec(11), vec(12), vec(13)];
    const one: { surprise: number; step: number }[] = [];
    for (const x of xs) {
      const r = await nm.request('POST', '/update_memory', { input_embedding: x, namespace: 'single' });
      assert.equal(r.status, 200);
      one.push({ surprise: r.body.surprise, step: r.body.step });
    }
    const batch = await nm.request('POST', '/update_memory_batch', {
      input_embeddings: xs,
      namespace: 'batched',
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    assert.equal(batch.body.durable, true);
    assert.deepEqual(
      batch.body.results.map((r: { surprise: number; step: number }) => ({
        surprise: r.surprise,
        step: r.step,
      })),
      one,
    );
    const before = await nm.request('POST', '/retrieve', { input_embedding: vec(12), namespace: 'batched' });
    for (const bad of [[], [vec(14), vec(1).map(() => 0)], [vec(14), [1, 2]], 'x'])
      assert.equal(
        (await nm.request('POST', '/update_memory_batch', { input_embeddings: bad, namespace: 'batched' }))
          .status,
        400,
      );
    const after = await nm.request('POST', '/retrieve', { input_embedding: vec(12), namespace: 'batched' });
    assert.deepEqual(after.body.retrieved_embedding, before.body.retrieved_embedding, 'nothing changed');
  });

  test('retrieve recalls what was written (input_embedding or query_embedding)', async () => {
    const x = vec(7);
    const before = (await nm.request('POST', '/retrieve', { namespace: 'recall', input_embedding: x })).body;
    assert.equal(before.status, 'success');
    assert.equal(before.retrieved_embedding.length, DIM);
    for (let i = 0; i < 30; i++)
      await nm.request('POST', '/update_memory', { namespace: 'recall', input_embedding: x });
    const afterR = await nm.request('POST', '/retrieve', { namespace: 'recall', query_embedding: x });
    assert.equal(afterR.status, 200);
    assert.equal(afterR.body.variant, 'NONE');
    assert.ok(
      dist(afterR.body.retrieved_embedding, x) < dist(before.retrieved_embedding, x),
      'retrieval moved towards the written embedding',
    );
    assert.equal(await stepOf(nm, 'recall'), 30, 'retrieve does not write');
  });

  test('calculate_gates and analyze_surprise change nothing', async () => {
    const step = await stepOf(nm);
    const g = await nm.request('POST', '/calculate_gates', { input_embedding: vec(3) });
    assert.equal(g.status, 200);
    assert.equal(g.body.status, 'success');
    for (const k of ['alpha', 'theta', 'eta']) assert.ok(typeof g.body[k] === 'number', `${k} returned`);
    const s = await nm.request('POST', '/analyze_surprise', { input_embedding: vec(3) });
    assert.equal(s.status, 200);
    assert.ok(s.body.surprise >= 0 && s.body.surprise <= 1, 'surprise normalised');
    assert.ok(s.body.loss > 0, 'loss positive for a new item');
    assert.equal(s.body.evaluated, true);
    const u = await nm.request('POST', '/update_memory', { input_embedding: vec(3) });
    assert.ok(Math.abs(u.body.loss - s.body.loss) < 1e-9, 'analyze_surprise predicts the loss of the update');
    assert.equal(await stepOf(nm), step! + 1, 'only the update wrote');
  });

  test('predict_next: 409 in associative mode, works after /init in sequence mode', async () => {
    const r = await nm.request('POST', '/predict_next', { input_embedding: vec(1) });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, 'wrong_mode');
    const init = await nm.request('POST', '/init', {
      namespace: 'seq',
      config: { mode: 'sequence' },
      seed: 5,
    });
    assert.equal(init.status, 200, JSON.stringify(init.body));
    assert.equal(init.body.config.mode, 'sequence');
    const first = await nm.request('POST', '/update_memory', { namespace: 'seq', input_embedding: vec(1) });
    assert.equal(first.body.written, false, 'the first input of a sequence has no predecessor');
    for (let i = 0; i < 20; i++) {
      await nm.request('POST', '/update_memory', { namespace: 'seq', input_embedding: vec(2) });
      await nm.request('POST', '/update_memory', { namespace: 'seq', input_embedding: vec(1) });
    }
    const p = await nm.request('POST', '/predict_next', { namespace: 'seq', input_embedding: vec(1) });
    assert.equal(p.status, 200);
    assert.equal(p.body.status, 'success');
    assert.ok(
      dist(p.body.predicted_embedding, vec(2)) < dist(p.body.predicted_embedding, vec(1)),
      'after 1 comes 2',
    );
  });

  test('init validates config and seed', async () => {
    const bad = await nm.request('POST', '/init', { namespace: 'x', config: { key_dim: -1 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_config');
    const unknown = await nm.request('POST', '/init', { namespace: 'x', config: { nonsense: 1 } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'invalid_config');
    const huge = await nm.request('POST', '/init', {
      namespace: 'x',
      config: { input_dim: 60000, value_dim: 60000, key_dim: 60000 },
    });
    assert.equal(huge.status, 400);
    assert.equal(huge.body.error.code, 'config_too_large');
    const seed = await nm.request('POST', '/init', { namespace: 'x', seed: 1.5 });
    assert.equal(seed.status, 400);
    const a = await nm.request('POST', '/init', { namespace: 'x', seed: 9, config: { variant: 'mag' } });
    assert.equal(a.status, 200);
    assert.equal(a.body.config.variant, 'MAG');
    const p1 = await nm.request('POST', '/get_projections', { namespace: 'x', full: true });
    await nm.request('POST', '/init', { namespace: 'x', seed: 9 });
    const p2 = await nm.request('POST', '/get_projections', { namespace: 'x', full: true });
    assert.deepEqual(p1.body.W_K.values, p2.body.W_K.values, 'same seed, same projections');
  });

  test('get_projections: shapes and norms, values with full', async () => {
    const s = await nm.request('POST', '/get_projections', {});
    assert.equal(s.status, 200);
    assert.deepEqual(s.body.W_K.shape, [16, DIM]);
    assert.deepEqual(s.body.W_Q.shape, [16, DIM]);
    assert.deepEqual(s.body.W_V.shape, [DIM, DIM]);
    assert.ok(s.body.W_K.norm > 0, 'W_K has a norm');
    assert.equal(s.body.W_K.values, undefined, 'no values by default');
    const g = await nm.request('GET', '/get_projections?full=true');
    assert.equal(g.status, 200);
    assert.equal(g.body.W_K.values.length, 16);
    assert.equal(g.body.W_K.values[0].length, DIM);
    assert.equal(g.body.W_V.values[3][3], 1, 'W_V starts as the identity');
  });

  test('bad input is refused with 400 and changes nothing', async () => {
    const step = await stepOf(nm);
    const cases: [string, unknown, string][] = [
      ['wrong length', { input_embedding: vec(1, DIM - 1) }, 'invalid_embedding'],
      ['a string element', { input_embedding: [...vec(1).slice(1), 'x'] }, 'invalid_embedding'],
      ['null element', { input_embedding: [null, ...vec(1).slice(1)] }, 'invalid_embedding'],
      ['missing', {}, 'invalid_embedding'],
      ['not an array', { input_embedding: 'abc' }, 'invalid_embedding'],
      ['bad namespace', { input_embedding: vec(1), namespace: '../etc' }, 'invalid_namespace'],
      ['long namespace', { input_embedding: vec(1), namespace: 'a'.repeat(65) }, 'invalid_namespace'],
      ['NaN literal', `{"input_embedding": [NaN${',0'.repeat(DIM - 1)}]}`, 'invalid_json'],
      ['1e400', `{"input_embedding": [1e400${',0'.repeat(DIM - 1)}]}`, 'invalid_embedding'],
      ['float32 overflow', { input_embedding: [1e39, ...vec(1).slice(1)] }, 'invalid_embedding'],
      ['all zeros', { input_embedding: new Array(DIM).fill(0) }, 'zero_vector'],
      ['all zeros, wrong length', { input_embedding: [0, 0, 0] }, 'zero_vector'],
    ];
    for (const path of ['/update_memory', '/retrieve', '/calculate_gates', '/analyze_surprise']) {
      for (const [what, body, code] of cases) {
        const r = await nm.request('POST', path, body);
        assert.equal(r.status, 400, `${path} ${what}: status ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, `${path} ${what}: code`);
      }
    }
    const arr = await nm.request('POST', '/update_memory', [1, 2, 3]);
    assert.equal(arr.status, 400, 'a JSON array body is refused');
    assert.equal(await stepOf(nm), step, 'nothing was written');
    const names = (await nm.request('GET', '/status')).body.namespaces.map(
      (n: { namespace: string }) => n.namespace,
    );
    assert.ok(!names.includes('../etc'), 'no namespace was created from bad input');
  });

  test('zero vectors in train_outer sequences are refused with 400 zero_vector', async () => {
    const r = await nm.request('POST', '/train_outer', {
      namespace: 'zero',
      sequences: [[vec(1), vec(2), new Array(DIM).fill(0)]],
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'zero_vector');
    assert.match(r.body.error.message, /sequences\[0\]\[2\]/);
  });

  test('body limit: a 40 MB body gets 413; the largest legitimate train_outer body fits', async () => {
    const big = await nm.request(
      'POST',
      '/update_memory',
      `{"input_embedding":[${'0.1,'.repeat(10_000_000)}0.1]}`,
    );
    assert.equal(big.status, 413);
    assert.equal(big.body.error.code, 'body_too_large');
    // NM_TRAIN_MAX_BODY_EMBEDDINGS (1024) embeddings of DIM numbers printed at their widest JSON form
    const wide = '-1.2345678901234567e-10';
    const embedding = `[${Array.from({ length: DIM }, () => wide).join(',')}]`;
    const sequences = Array.from({ length: 8 }, () => Array.from({ length: 128 }, () => embedding).join(','));
    const body = `{"namespace":"widest","epochs":1,"sequences":[${sequences.map((s) => `[${s}]`).join(',')}]}`;
    const fits = await nm.request('POST', '/train_outer', body);
    assert.equal(fits.status, 200, JSON.stringify(fits.body).slice(0, 300));
    assert.equal(fits.body.embeddings, 1024);
    assert.equal(fits.body.durable, true);
    const over = await nm.request(
      'POST',
      '/train_outer',
      body.replace('"namespace"', `"pad":"${'x'.repeat(80_000)}","namespace"`),
    );
    assert.equal(over.status, 413, 'the limit is the largest legitimate body plus 64 KiB');
  });

  test('reset clears the memory but keeps the namespace', async () => {
    await nm.request('POST', '/update_memory', { namespace: 'r', input_embedding: vec(4) });
    const fresh = await nm.request('POST', '/retrieve', { namespace: 'r2', input_embedding: vec(4) });
    const r = await nm.request('POST', '/reset', { namespace: 'r' });
    assert.equal(r.status, 200);
    assert.equal(r.body.step, 0);
    const after = await nm.request('POST', '/retrieve', { namespace: 'r', input_embedding: vec(4) });
    assert.deepEqual(
      after.body.retrieved_embedding,
      fresh.body.retrieved_embedding,
      'back to the initial memory',
    );
  });

  test('namespaces are isolated', async () => {
    const q = vec(11);
    const b0 = (await nm.request('POST', '/retrieve', { namespace: 'iso-b', input_embedding: q })).body;
    for (let i = 0; i < 5; i++)
      await nm.request('POST', '/update_memory', { namespace: 'iso-a', input_embedding: q });
    const b1 = (await nm.request('POST', '/retrieve', { namespace: 'iso-b', input_embedding: q })).body;
    assert.deepEqual(b1.retrieved_embedding, b0.retrieved_embedding, 'b unchanged by writes to a');
    assert.equal(await stepOf(nm, 'iso-a'), 5);
    assert.equal(await stepOf(nm, 'iso-b'), 0);
  });

  test('GET /config, POST /config switches the variant; invalid values are 400', async () => {
    const g = await nm.request('GET', '/config');
    assert.equal(g.status, 200);
    assert.equal(g.body.runtime.variant, 'NONE');
    assert.equal(g.body.model.inputDim, DIM);
    const bad = await nm.request('POST', '/config', { variant: 'XYZ' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_variant');
    const ro = await nm.request('POST', '/config', { NM_INPUT_DIM: 3 });
    assert.equal(ro.status, 400);
    assert.equal(ro.body.error.code, 'invalid_config');
    const empty = await nm.request('POST', '/config', {});
    assert.equal(empty.status, 400);
    const negative = await nm.request('POST', '/config', { autosave_interval_ms: -5 });
    assert.equal(negative.status, 400);
    const one = await nm.request('POST', '/config', { variant: 'MAL', namespace: 'cfg-one' });
    assert.equal(one.status, 200);
    const u = await nm.request('POST', '/update_memory', { namespace: 'cfg-one', input_embedding: vec(1) });
    assert.equal(u.body.variant, 'MAL');
    assert.ok(Array.isArray(u.body.variant_output), 'MAL returns the written value');
    const other = await nm.request('POST', '/update_memory', {
      namespace: 'cfg-two',
      input_embedding: vec(1),
    });
    assert.equal(other.body.variant, 'NONE', 'other namespaces keep their variant');
    const all = await nm.request('POST', '/config', { variant: 'MAG' });
    assert.equal(all.status, 200);
    assert.equal(all.body.runtime.variant, 'MAG');
    const u2 = await nm.request('POST', '/update_memory', { namespace: 'cfg-two', input_embedding: vec(2) });
    assert.equal(u2.body.variant, 'MAG');
    const fresh = await nm.request('POST', '/retrieve', { namespace: 'cfg-new', input_embedding: vec(2) });
    assert.equal(fresh.body.variant, 'MAG', 'new namespaces take the runtime variant');
    await nm.request('POST', '/config', { variant: 'NONE' });
  });

  test('health, metrics and status', async () => {
    const h = await nm.request('GET', '/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'healthy');
    assert.ok(h.body.namespaces_loaded >= 1, 'health counts namespaces');
    const m = await nm.request('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.ok(String(m.body).includes('route="/update_memory"'), 'per-endpoint metrics');
    const s = await nm.request('GET', '/status');
    assert.equal(s.body.status, 'success');
    assert.equal(s.body.mode, 'associative');
    const d = (s.body.namespaces as { namespace: string; dirty: boolean; step: number }[]).find(
      (n) => n.namespace === 'default',
    );
    assert.ok(
      d && d.dirty === true && d.step > 0,
      'default namespace is listed with its step and dirty flag',
    );
  });
});

describe('neural memory service: persistence', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('save, restart, restored bit-identically; load 404 without a snapshot; load reverts', async () => {
    let nm = await startNm({}, { dir });
    for (let i = 0; i < 10; i++)
      await nm.request('POST', '/update_memory', { namespace: 'p', input_embedding: vec(100 + i) });
    await nm.request('POST', '/config', { variant: 'MAC', namespace: 'p' });
    const saved = await nm.request('POST', '/save', { namespace: 'p' });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.ok(saved.body.bytes > 0, 'bytes written');
    assert.ok(existsSync(join(dir, 'neural-memory', 'p.nm')), 'snapshot file exists');
    const want = (await nm.request('POST', '/retrieve', { namespace: 'p', input_embedding: vec(105) })).body;
    const missing = await nm.request('POST', '/load', { namespace: 'nothing-here' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'not_found');
    // more writes, then /load reverts to the snapshot
    await nm.request('POST', '/update_memory', { namespace: 'p', input_embedding: vec(1) });
    const loaded = await nm.request('POST', '/load', { namespace: 'p' });
    assert.equal(loaded.status, 200);
    assert.equal(loaded.body.step, 10);
    const reverted = (await nm.request('POST', '/retrieve', { namespace: 'p', input_embedding: vec(105) }))
      .body;
    assert.deepEqual(reverted.retrieved_embedding, want.retrieved_embedding, 'load reverted the state');
    await nm.stop();

    nm = await startNm({}, { dir });
    const status = await nm.request('GET', '/status');
    const listed = (status.body.namespaces as { namespace: string; loaded: boolean }[]).find(
      (n) => n.namespace === 'p',
    );
    assert.ok(listed && listed.loaded === false, 'saved namespace listed before it is loaded');
    const got = (await nm.request('POST', '/retrieve', { namespace: 'p', input_embedding: vec(105) })).body;
    assert.equal(got.variant, 'MAC', 'variant restored');
    assert.deepEqual(got.retrieved_embedding, want.retrieved_embedding, 'bit-identical after restart');
    assert.equal(await stepOf(nm, 'p'), 10);
    await nm.stop();
  });

  test('unsaved changes are saved at shutdown', async () => {
    let nm = await startNm({}, { dir });
    for (let i = 0; i < 3; i++)
      await nm.request('POST', '/update_memory', { namespace: 'shut', input_embedding: vec(i) });
    const want = (await nm.request('POST', '/retrieve', { namespace: 'shut', input_embedding: vec(1) })).body;
    await nm.stop();
    nm = await startNm({}, { dir });
    const got = (await nm.request('POST', '/retrieve', { namespace: 'shut', input_embedding: vec(1) })).body;
    assert.deepEqual(got.retrieved_embedding, want.retrieved_embedding, 'state survived the restart');
    assert.equal(await stepOf(nm, 'shut'), 3);
    await nm.stop();
  });

  test('a corrupt snapshot is a 500 snapshot_corrupt until /init re-creates the namespace', async () => {
    mkdirSync(join(dir, 'neural-memory'), { recursive: true });
    writeFileSync(join(dir, 'neural-memory', 'broken.nm'), 'not a snapshot');
    const nm = await startNm({}, { dir });
    const r = await nm.request('POST', '/retrieve', { namespace: 'broken', input_embedding: vec(1) });
    assert.equal(r.status, 500);
    assert.equal(r.body.error.code, 'snapshot_corrupt');
    const l = await nm.request('POST', '/load', { namespace: 'broken' });
    assert.equal(l.status, 500);
    const i = await nm.request('POST', '/init', { namespace: 'broken' });
    assert.equal(i.status, 200);
    const ok = await nm.request('POST', '/update_memory', { namespace: 'broken', input_embedding: vec(1) });
    assert.equal(ok.status, 200);
    await nm.stop();
  });

  test('beyond NM_MAX_NAMESPACES saved namespaces are unloaded, unsaved ones are never dropped', async () => {
    const nm = await startNm({ NM_MAX_NAMESPACES: '2' }, { dir });
    await nm.request('POST', '/update_memory', { namespace: 'e1', input_embedding: vec(1) });
    await nm.request('POST', '/update_memory', { namespace: 'e2', input_embedding: vec(2) });
    const full = await nm.request('POST', '/update_memory', { namespace: 'e3', input_embedding: vec(3) });
    assert.equal(full.status, 503, 'both loaded namespaces have unsaved changes');
    assert.equal(full.body.error.code, 'too_many_namespaces');
    const want = (await nm.request('POST', '/retrieve', { namespace: 'e1', input_embedding: vec(1) })).body;
    await nm.request('POST', '/save', { namespace: 'e1' });
    const ok = await nm.request('POST', '/update_memory', { namespace: 'e3', input_embedding: vec(3) });
    assert.equal(ok.status, 200, 'e1 (saved) was unloaded to make room');
    const loaded = (await nm.request('GET', '/status')).body.namespaces.filter(
      (n: { loaded: boolean }) => n.loaded,
    );
    assert.equal(loaded.length, 2);
    await nm.request('POST', '/save', { namespace: 'e3' });
    const back = (await nm.request('POST', '/retrieve', { namespace: 'e1', input_embedding: vec(1) })).body;
    assert.deepEqual(back.retrieved_embedding, want.retrieved_embedding, 'e1 restored from its snapshot');
    await nm.stop();
  });

  test('autosave on an interval when dirty', async () => {
    const nm = await startNm({ NM_AUTOSAVE_INTERVAL_MS: '50' }, { dir });
    await nm.request('POST', '/update_memory', { namespace: 'auto', input_embedding: vec(1) });
    const file = join(dir, 'neural-memory', 'auto.nm');
    const deadline = Date.now() + 3000;
    while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(existsSync(file), 'autosave wrote the snapshot');
    await new Promise((r) => setTimeout(r, 100));
    const s = await nm.request('GET', '/status');
    const e = (s.body.namespaces as { namespace: string; dirty: boolean }[]).find(
      (n) => n.namespace === 'auto',
    );
    assert.equal(e?.dirty, false, 'clean after autosave');
    await nm.stop();
  });
});

describe('neural memory service: concurrency', () => {
  let nm: TestNm;
  before(async () => {
    nm = await startNm();
  });
  after(async () => {
    await nm?.destroy();
  });

  test('200 updates in flight while switching variants 20 times: all succeed, no deadlock', async () => {
    const variants = ['MAC', 'MAG', 'MAL', 'NONE'];
    const updates = Array.from({ length: 200 }, (_, i) =>
      nm.request('POST', '/update_memory', { namespace: i % 2 ? 'c1' : 'c2', input_embedding: vec(i) }),
    );
    const switches = Array.from({ length: 20 }, (_, i) =>
      nm.request('POST', '/config', { variant: variants[i % 4] }),
    );
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('deadlock: requests did not finish in 20 s')), 20_000).unref(),
    );
    const results = await Promise.race([Promise.all([...updates, ...switches]), timeout]);
    for (const r of results) assert.equal(r.status, 200, `request failed: ${JSON.stringify(r.body)}`);
    const steps = (await Promise.all(updates)).map((r) => r.body.step as number);
    for (const ns of ['c1', 'c2']) assert.equal(await stepOf(nm, ns), 100, `${ns} took 100 writes`);
    const c1Steps = (await Promise.all(updates))
      .filter((_, i) => i % 2 === 1)
      .map((r) => r.body.step as number)
      .sort((a, b) => a - b);
    assert.deepEqual(
      c1Steps,
      Array.from({ length: 100 }, (_, i) => i + 1),
      'each write of a namespace got its own step (serialised)',
    );
    assert.equal(steps.length, 200);
    const finalVariant = variants[19 % 4];
    const s = await nm.request('GET', '/status');
    for (const e of s.body.namespaces as { variant: string }[])
      assert.equal(e.variant, finalVariant, 'every namespace ends on the last variant');
  });
});
