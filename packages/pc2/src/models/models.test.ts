// The model registry, pull and verify against a real local HTTP server (Range support, a server that cuts the
// connection, one that ignores Range, one that stalls): checksums, resume, mismatch, corruption, trust on first use,
// archive members, locally built models and registry validation. Nothing here touches the internet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  BUILTIN_MODELS,
  loadRegistry,
  ModelEntrySchema,
  ModelError,
  modelsDir,
  modelStatus,
  parseModelEntry,
  PINS_FILE,
  pullModel,
  readPins,
  readRegistryFile,
  verifyModel,
  type ModelEntry,
} from './index.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

interface Route {
  body: Buffer;
  /** On the first request, send this many bytes of the body and then destroy the socket. */
  cutFirstAfter?: number;
  /** Answer 200 with the whole body even when asked for a range. */
  ignoreRange?: boolean;
  /** Send the headers and then nothing. */
  stall?: boolean;
}

async function serve(routes: Record<string, Route>) {
  const seen: { url: string; range: string | undefined }[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    seen.push({ url, range: req.headers.range });
    const route = routes[url];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const { body } = route;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    let status = 200;
    const headers: Record<string, string | number> = { 'accept-ranges': 'bytes' };
    if (m && !route.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    const slice = body.subarray(start);
    headers['content-length'] = slice.length;
    const first = seen.filter((s) => s.url === url).length === 1;
    if (route.stall) {
      res.writeHead(status, headers);
      res.flushHeaders();
      return;
    }
    if (first && route.cutFirstAfter !== undefined) {
      res.writeHead(status, headers);
      res.write(slice.subarray(0, route.cutFirstAfter));
      setTimeout(() => req.socket.destroy(), 100);
      return;
    }
    res.writeHead(status, headers).end(slice);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'synthians-models-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const entry = (over: Partial<ModelEntry> & Pick<ModelEntry, 'files'>): ModelEntry =>
  parseModelEntry({
    name: 'test-model',
    kind: 'embedding',
    description: 'a test model',
    license: 'MIT',
    use: 'nothing',
    ...over,
  });

/** A minimal ustar writer: enough to build npm-like tarballs for the extraction tests. */
function tgz(files: Record<string, Buffer>): Buffer {
  const blocks: Buffer[] = [];
  for (const [path, body] of Object.entries(files)) {
    const h = Buffer.alloc(512);
    let name = path;
    let prefix = '';
    if (path.length > 100) {
      const cut = path.lastIndexOf('/', 155);
      prefix = path.slice(0, cut);
      name = path.slice(cut + 1);
    }
    h.write(name, 0, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.write(prefix, 345, 'utf8');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

test('pull downloads and verifies against sha256 and sha1; a second pull skips verified files', async (t) => {
  const a = randomBytes(300_000);
  const b = randomBytes(123_457);
  const server = await serve({ '/a.bin': { body: a }, '/b.bin': { body: b } });
  t.after(server.close);
  const dir = tempDir(t);
  const model = entry({
    files: [
      { path: 'a.bin', url: `${server.base}/a.bin`, size: a.length, sha256: sha256(a) },
      { path: 'sub/b.bin', url: `${server.base}/b.bin`, sha1: sha1(b).toUpperCase() },
    ],
  });
  const progress: number[] = [];
  const pulled = await pullModel(model, dir, { onProgress: (p) => progress.push(p.received) });
  assert.deepEqual(
    pulled.map((p) => [p.path, p.action, p.pin]),
    [
      ['a.bin', 'downloaded', 'registry'],
      ['sub/b.bin', 'downloaded', 'registry'],
    ],
  );
  assert.deepEqual(await readFile(join(dir, 'a.bin')), a);
  assert.deepEqual(await readFile(join(dir, 'sub/b.bin')), b);
  assert.ok(progress.at(-1) === b.length && progress.includes(a.length));
  assert.equal(existsSync(join(dir, 'a.bin.part')), false);
  assert.deepEqual(await verifyModel(model, dir), {
    name: 'test-model',
    ok: true,
    files: [
      { path: 'a.bin', ok: true, pin: 'registry' },
      { path: 'sub/b.bin', ok: true, pin: 'registry' },
    ],
  });
  assert.equal(await modelStatus(model, dir), 'installed');

  const requests = server.seen.length;
  const again = await pullModel(model, dir);
  assert.deepEqual(
    again.map((p) => p.action),
    ['skipped', 'skipped'],
  );
  assert.equal(server.seen.length, requests);
});

test('a broken download resumes with Range (206), and starts over when the server answers 200', async (t) => {
  const body = randomBytes(400_000);
  const cut = 150_000;
  const server = await serve({
    '/r.bin': { body, cutFirstAfter: cut },
    '/n.bin': { body, cutFirstAfter: cut, ignoreRange: true },
  });
  t.after(server.close);
  for (const path of ['/r.bin', '/n.bin']) {
    const dir = tempDir(t);
    const model = entry({
      files: [{ path: 'm.bin', url: `${server.base}${path}`, size: body.length, sha256: sha256(body) }],
    });
    await assert.rejects(pullModel(model, dir, { idleTimeoutMs: 5000 }), (err: unknown) => {
      assert.ok(ModelError.isInstance(err));
      assert.equal(err.code, 'download_interrupted');
      assert.match(err.message, /m\.bin\.part is kept and the next pull resumes/);
      return true;
    });
    assert.equal((await stat(join(dir, 'm.bin.part'))).size, cut);
    assert.equal(await modelStatus(model, dir), 'partial');

    const pulled = await pullModel(model, dir);
    assert.equal(pulled[0]!.action, 'downloaded');
    const requests = server.seen.filter((s) => s.url === path);
    assert.deepEqual(
      requests.map((s) => s.range),
      [undefined, `bytes=${cut}-`],
    );
    assert.deepEqual(await readFile(join(dir, 'm.bin')), body);
    assert.equal((await verifyModel(model, dir)).ok, true);
    assert.equal(existsSync(join(dir, 'm.bin.part')), false);
  }
});

test('a complete .part is accepted on 416; a stalled server times out and keeps nothing it did not get', async (t) => {
  const body = randomBytes(200_000);
  const server = await serve({ '/f.bin': { body }, '/stall.bin': { body, stall: true } });
  t.after(server.close);
  const dir = tempDir(t);
  await writeFile(join(dir, 'f.bin.part'), body);
  const model = entry({
    files: [{ path: 'f.bin', url: `${server.base}/f.bin`, size: body.length, sha256: sha256(body) }],
  });
  await pullModel(model, dir);
  assert.deepEqual(server.seen.at(-1), { url: '/f.bin', range: `bytes=${body.length}-` });
  assert.deepEqual(await readFile(join(dir, 'f.bin')), body);

  const stalled = entry({
    files: [{ path: 's.bin', url: `${server.base}/stall.bin`, sha256: sha256(body) }],
  });
  await assert.rejects(
    pullModel(stalled, dir, { idleTimeoutMs: 200 }),
    /interrupted after 0 bytes \(no data for 200 ms\)/,
  );
  const aborted = new AbortController();
  setTimeout(() => aborted.abort(), 100);
  await assert.rejects(pullModel(stalled, dir, { signal: aborted.signal }), /\(aborted\)/);
});

test('a checksum mismatch fails naming expected and actual, and leaves nothing installed', async (t) => {
  const body = randomBytes(100_000);
  const server = await serve({ '/x.bin': { body } });
  t.after(server.close);
  const dir = tempDir(t);
  const wrong = sha256(Buffer.from('something else'));
  const model = entry({ files: [{ path: 'x.bin', url: `${server.base}/x.bin`, sha256: wrong }] });
  await assert.rejects(pullModel(model, dir), (err: unknown) => {
    assert.ok(ModelError.isInstance(err));
    assert.equal(err.code, 'checksum_mismatch');
    assert.match(err.message, new RegExp(`checksum mismatch: expected sha256 ${wrong}, got ${sha256(body)}`));
    return true;
  });
  assert.deepEqual(await readdir(dir), []);
  const sized = entry({ files: [{ path: 'x.bin', url: `${server.base}/x.bin`, size: 5 }] });
  await assert.rejects(pullModel(sized, dir, { trustOnFirstUse: true }), { code: 'size_mismatch' });
  assert.deepEqual(await readdir(dir), []);
});

test('verify detects a corrupted installed file, and pull repairs it', async (t) => {
  const body = randomBytes(64_000);
  const server = await serve({ '/c.bin': { body } });
  t.after(server.close);
  const dir = tempDir(t);
  const model = entry({ files: [{ path: 'c.bin', url: `${server.base}/c.bin`, sha256: sha256(body) }] });
  await pullModel(model, dir);
  const bad = Buffer.from(body);
  bad[1234] = bad[1234]! ^ 0xff;
  await writeFile(join(dir, 'c.bin'), bad);
  const result = await verifyModel(model, dir);
  assert.equal(result.ok, false);
  assert.match(result.files[0]!.reason!, /checksum mismatch: expected sha256/);
  assert.equal((await pullModel(model, dir))[0]!.action, 'downloaded');
  assert.equal((await verifyModel(model, dir)).ok, true);
  rmSync(join(dir, 'c.bin'));
  assert.deepEqual((await verifyModel(model, dir)).files[0], {
    path: 'c.bin',
    ok: false,
    pin: 'registry',
    reason: 'missing',
  });
});

test('an unpinned file is refused without trust on first use; with it the pin is recorded and verify uses it', async (t) => {
  const body = randomBytes(80_000);
  const pinned = randomBytes(1000);
  const server = await serve({ '/u.bin': { body }, '/p.bin': { body: pinned } });
  t.after(server.close);
  const dir = tempDir(t);
  const model = entry({
    files: [
      { path: 'p.bin', url: `${server.base}/p.bin`, sha256: sha256(pinned) },
      { path: 'u.bin', url: `${server.base}/u.bin` },
    ],
  });
  await assert.rejects(pullModel(model, dir), (err: unknown) => {
    assert.ok(ModelError.isInstance(err));
    assert.equal(err.code, 'unpinned');
    assert.match(err.message, /no checksum for u\.bin\. Pull with --trust-on-first-use/);
    return true;
  });
  assert.equal(server.seen.length, 0);

  const pulled = await pullModel(model, dir, { trustOnFirstUse: true });
  assert.deepEqual(
    pulled.map((p) => p.pin),
    ['registry', 'first-use'],
  );
  const pins = await readPins(dir);
  assert.equal(pins['u.bin']!.sha256, sha256(body));
  assert.equal(pins['u.bin']!.source, 'first-use');
  assert.equal(pins['p.bin'], undefined);
  assert.deepEqual(
    (await verifyModel(model, dir)).files.map((f) => [f.path, f.ok, f.pin]),
    [
      ['p.bin', true, 'registry'],
      ['u.bin', true, 'first-use'],
    ],
  );
  // The recorded pin now guards the file: corruption is caught, and a re-pull need not trust again.
  await writeFile(join(dir, 'u.bin'), Buffer.from('tampered'));
  assert.match((await verifyModel(model, dir)).files[1]!.reason!, /size mismatch/);
  assert.equal((await pullModel(model, dir))[1]!.action, 'downloaded');
  assert.equal((await verifyModel(model, dir)).ok, true);
  await writeFile(join(dir, PINS_FILE), '{ nope');
  await assert.rejects(verifyModel(model, dir), { code: 'bad_pins' });
});

test('archive members: the tarball is verified, one member extracted, pins taken from the archive', async (t) => {
  const onnx = randomBytes(250_000);
  const other = randomBytes(7000);
  const deep = `package/${'d'.repeat(90)}/weights/deep.onnx`;
  const archive = tgz({
    'package/README.md': Buffer.from('hello'),
    'package/weights/m.onnx': onnx,
    [deep]: other,
  });
  const server = await serve({ '/pkg.tgz': { body: archive } });
  t.after(server.close);
  const dir = tempDir(t);
  const url = `${server.base}/pkg.tgz`;
  const model = entry({
    files: [
      {
        path: 'm.onnx',
        url,
        size: archive.length,
        sha256: sha256(archive),
        extract: { from: 'tgz', member: 'package/weights/m.onnx', size: onnx.length, sha256: sha256(onnx) },
      },
      { path: 'deep.onnx', url, sha256: sha256(archive), extract: { from: 'tgz', member: deep } },
    ],
  });
  const pulled = await pullModel(model, dir);
  assert.deepEqual(
    pulled.map((p) => [p.path, p.action, p.pin]),
    [
      ['m.onnx', 'extracted', 'registry'],
      ['deep.onnx', 'extracted', 'archive'],
    ],
  );
  assert.equal(server.seen.length, 1, 'one download serves both members');
  assert.deepEqual(await readFile(join(dir, 'm.onnx')), onnx);
  assert.deepEqual(await readFile(join(dir, 'deep.onnx')), other);
  assert.equal(existsSync(join(dir, '.downloads')), false);
  assert.equal((await verifyModel(model, dir)).ok, true);

  const missing = entry({
    files: [
      { path: 'n.onnx', url, sha256: sha256(archive), extract: { from: 'tgz', member: 'package/nope' } },
    ],
  });
  await assert.rejects(pullModel(missing, tempDir(t)), /cannot extract package\/nope .*no such member/);
  const wrongMember = entry({
    files: [
      {
        path: 'm.onnx',
        url,
        sha256: sha256(archive),
        extract: { from: 'tgz', member: 'package/weights/m.onnx', sha256: sha256(other) },
      },
    ],
  });
  const wrongDir = tempDir(t);
  await assert.rejects(pullModel(wrongMember, wrongDir), { code: 'checksum_mismatch' });
  assert.equal(existsSync(join(wrongDir, 'm.onnx')), false);
});

test('a builder entry calls the builder, records build pins, and verify checks them', async (t) => {
  const dir = tempDir(t);
  const model = entry({
    builder: 'word-vectors',
    files: [{ path: 'model.onnx' }, { path: 'tokenizer.json' }],
  });
  await assert.rejects(pullModel(model, dir), { code: 'no_builder' });
  let calls = 0;
  const builders = {
    'word-vectors': async (d: string) => {
      calls++;
      await writeFile(join(d, 'model.onnx'), 'onnx');
      await writeFile(join(d, 'tokenizer.json'), '{}');
    },
  };
  const pulled = await pullModel(model, dir, { builders });
  assert.deepEqual(
    pulled.map((p) => [p.path, p.action, p.pin]),
    [
      ['model.onnx', 'built', 'build'],
      ['tokenizer.json', 'built', 'build'],
    ],
  );
  assert.equal((await verifyModel(model, dir)).ok, true);
  assert.equal((await pullModel(model, dir, { builders }))[0]!.action, 'skipped');
  assert.equal(calls, 1);
  await writeFile(join(dir, 'tokenizer.json'), '{"x":1}');
  assert.equal((await verifyModel(model, dir)).ok, false);
  const lazy = { 'word-vectors': async () => {} };
  await assert.rejects(pullModel(model, tempDir(t), { builders: lazy }), /did not write model\.onnx/);
});

test('registry: extra files add and override by name; bad files fail naming the file and the field', async (t) => {
  const dir = tempDir(t);
  const good = join(dir, 'good.json');
  const base = { kind: 'stt', description: 'd', license: 'MIT', use: 'u' };
  await writeFile(
    good,
    JSON.stringify({
      models: [
        { ...base, name: 'whisper-tiny.en', files: [{ path: 'x.bin', url: 'https://example.test/x.bin' }] },
        { ...base, name: 'mine', files: [{ path: 'y.bin', url: 'http://127.0.0.1/y.bin' }] },
      ],
    }),
  );
  const registry = await loadRegistry(good);
  assert.equal(registry.length, BUILTIN_MODELS.length + 1);
  assert.equal(registry.find((m) => m.name === 'whisper-tiny.en')!.files[0]!.path, 'x.bin');
  assert.equal((await loadRegistry(undefined)).length, BUILTIN_MODELS.length);

  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify([{ ...base, name: 'm', kind: 'nope', files: [] }]));
  await assert.rejects(loadRegistry(bad), (err: unknown) => {
    assert.ok(ModelError.isInstance(err));
    assert.equal(err.code, 'bad_registry');
    assert.ok(err.message.startsWith(`model registry ${bad}: `), err.message);
    assert.match(err.message, /models\[0\]\.kind/);
    assert.match(err.message, /models\[0\]\.files/);
    return true;
  });
  await writeFile(bad, '{ "models": [');
  await assert.rejects(readRegistryFile(bad), /malformed JSON/);
  await assert.rejects(readRegistryFile(join(dir, 'absent.json')), /cannot read/);
  await writeFile(
    bad,
    JSON.stringify({ models: [{ ...base, name: 'm', files: [{ path: 'a', url: 'ftp://example.test/a' }] }] }),
  );
  await assert.rejects(readRegistryFile(bad), /models\[0\]\.files\[0\]\.url: an http\(s\) URL/);

  for (const path of ['../evil', 'a/../../b', '/etc/passwd', 'C:\\x', 'a//b', '.pins.json', 'x.part']) {
    const r = ModelEntrySchema.safeParse({
      ...base,
      name: 'm',
      files: [{ path, url: 'https://example.test/a' }],
    });
    assert.equal(r.success, false, path);
  }
  assert.throws(
    () =>
      parseModelEntry({ ...base, name: 'm', files: [{ path: 'a', url: 'https://e.test/a', sha256: 'abc' }] }),
    /files\[0\]\.sha256: 64 hex digits/,
  );
  assert.throws(() => parseModelEntry({ ...base, name: 'm', files: [{ path: 'a' }] }), /a url is required/);
});

test('every built-in entry validates, has a url or a builder, and names are unique', () => {
  const names = new Set<string>();
  for (const m of BUILTIN_MODELS) {
    assert.deepEqual(ModelEntrySchema.parse(m), m, m.name);
    assert.ok(!names.has(m.name), `duplicate ${m.name}`);
    names.add(m.name);
    for (const f of m.files) assert.ok(m.builder || f.url, `${m.name}/${f.path}`);
  }
  for (const name of [
    'whisper-tiny.en',
    'whisper-base.en',
    'whisper-small.en',
    'whisper-tiny',
    'whisper-base',
  ])
    assert.match(BUILTIN_MODELS.find((m) => m.name === name)!.files[0]!.sha1!, /^[0-9a-f]{40}$/);
  assert.equal(BUILTIN_MODELS.find((m) => m.name === 'glove-sif-100d')!.builder, 'word-vectors');
});

test('modelsDir: SYNTHIANS_MODELS_DIR, else <SYNTHIANS_DATA_DIR or ./data>/models', () => {
  assert.equal(modelsDir({ SYNTHIANS_MODELS_DIR: '/m' }), '/m');
  assert.equal(modelsDir({ SYNTHIANS_DATA_DIR: '/d' }), '/d/models');
  assert.equal(modelsDir({}), join(process.cwd(), 'data', 'models'));
});
