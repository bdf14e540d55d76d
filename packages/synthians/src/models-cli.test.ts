// `synthians models list | pull | verify` as a child process, against a registry file whose entries point at a
// local HTTP server: listing, pulling (pinned and trust-on-first-use), verifying, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = new URL('../bin/synthians.js', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

test('models list, pull, verify and their exit codes', async (t) => {
  const pinned = randomBytes(200_000);
  const unpinned = randomBytes(50_000);
  const server = createServer((req, res) => {
    const body = req.url === '/pinned.bin' ? pinned : req.url === '/unpinned.bin' ? unpinned : undefined;
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'synthians-models-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const registry = join(dir, 'registry.json');
  const common = { kind: 'stt', license: 'MIT', use: 'point the server at <dir>/p.bin' };
  await writeFile(
    registry,
    JSON.stringify([
      {
        ...common,
        name: 'test-pinned',
        description: 'pinned test model',
        files: [
          {
            path: 'p.bin',
            url: `${base}/pinned.bin`,
            size: pinned.length,
            sha256: createHash('sha256').update(pinned).digest('hex'),
          },
        ],
      },
      {
        ...common,
        name: 'test-unpinned',
        description: 'unpinned test model',
        files: [{ path: 'u.bin', url: `${base}/unpinned.bin` }],
      },
    ]),
  );
  const models = join(dir, 'models');
  const env = { SYNTHIANS_MODELS_DIR: models, SYNTHIANS_MODELS_REGISTRY: registry };

  const listed = await run(['models', 'list', '--json'], env);
  assert.equal(listed.status, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as { name: string; status: string; pins: string; size?: number }[];
  assert.ok(rows.some((r) => r.name === 'whisper-base.en'));
  assert.deepEqual(
    rows.find((r) => r.name === 'test-pinned'),
    {
      ...rows.find((r) => r.name === 'test-pinned'),
      status: 'missing',
      pins: 'registry',
      size: pinned.length,
    },
  );
  assert.equal(rows.find((r) => r.name === 'test-unpinned')!.pins, 'unpinned');

  const pulled = await run(['models', 'pull', 'test-pinned'], env);
  assert.equal(pulled.status, 0, pulled.stderr);
  assert.match(pulled.stdout, /p\.bin 100%/);
  assert.match(pulled.stdout, /p\.bin\s+downloaded .*pinned by the registry/);
  assert.match(pulled.stdout, new RegExp(`use: point the server at ${join(models, 'test-pinned')}/p\\.bin`));
  assert.deepEqual(await readFile(join(models, 'test-pinned', 'p.bin')), pinned);

  const refused = await run(['models', 'pull', 'test-unpinned'], env);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /no checksum for u\.bin\. Pull with --trust-on-first-use/);
  const trusted = await run(['models', 'pull', 'test-unpinned', '--trust-on-first-use'], env);
  assert.equal(trusted.status, 0, trusted.stderr);
  assert.match(trusted.stdout, /u\.bin\s+downloaded .*pinned on first use/);

  const table = await run(['models', 'list'], env);
  assert.match(table.stdout, /test-pinned\s+stt\s+200 KB\s+installed\s+registry\s+pinned test model/);
  assert.match(table.stdout, /test-unpinned\s+stt\s+\?\s+installed\s+first-use/);

  const verified = await run(['models', 'verify'], env);
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /test-pinned: ok\n {2}p\.bin: ok \(pinned by the registry\)/);
  assert.match(verified.stdout, /u\.bin: ok \(pinned on first use/);

  const corrupt = Buffer.from(unpinned);
  corrupt[10] = corrupt[10]! ^ 1;
  await writeFile(join(models, 'test-unpinned', 'u.bin'), corrupt);
  const failed = await run(['models', 'verify', '--json'], env);
  assert.equal(failed.status, 1);
  const results = JSON.parse(failed.stdout) as { name: string; ok: boolean; files: { reason?: string }[] }[];
  assert.deepEqual(
    results.map((r) => [r.name, r.ok]),
    [
      ['test-pinned', true],
      ['test-unpinned', false],
    ],
  );
  assert.match(results[1]!.files[0]!.reason!, /checksum mismatch: expected sha256/);
  const one = await run(['models', 'verify', 'test-pinned'], env);
  assert.equal(one.status, 0);

  for (const args of [
    ['models', 'pull', 'nope'],
    ['models', 'verify', 'nope'],
  ]) {
    const unknown = await run(args, env);
    assert.equal(unknown.status, 2, args.join(' '));
    assert.match(unknown.stderr, /unknown model "nope"; run synthians models list/);
  }

  await writeFile(registry, JSON.stringify([{ name: 'bad', kind: 'stt' }]));
  const bad = await run(['models', 'list'], env);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, new RegExp(`model registry ${registry}: models\\[0\\]\\.description`));
});
