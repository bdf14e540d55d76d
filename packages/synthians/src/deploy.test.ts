// The deployment files agree with the code: compose.yaml, the Prometheus configuration and the Dockerfile against
// the port registry, the services this build implements and their configuration schemas (every variable compose
// sets exists, every port matches), plus the secure defaults compose must keep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ports } from '@synthians/kit';
import { loadSessionMemoryConfig } from '@synthians/session-memory';
import { findService, services } from './services.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string) => readFileSync(`${root}${p}`, 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string; target: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string | number | boolean>;
  healthcheck?: { test?: string[]; disable?: boolean };
  restart?: string;
  networks?: string[] | Record<string, { aliases?: string[] }>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  profiles?: string[];
  deploy?: { resources?: { reservations?: { devices?: { driver?: string; capabilities?: string[] }[] } } };
}
const compose = parse(read('compose.yaml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean; external?: boolean }>;
};
/** Variables the runner reads itself (not part of any one service's schema). */
const RUNNER_VARIABLES = new Set(['NATS_URL', 'SYNTHIANS_DATA_DIR']);

/** Compose interpolation as `docker compose` does it with an .env: defaults used, required ones set. */
const interpolate = (v: string) =>
  v.replace(/\$\{[A-Z0-9_]+(?::-([^}]*))?[^}]*\}/g, (_m, def: string | undefined) => def ?? 'set-in-env');

/** Every service compose runs with `synthians serve`; the GPU variant of the PC2 worker stands in for `pc2`. */
const serving = Object.entries(compose.services).filter(
  ([, s]) => s.command?.[0] === 'serve' && !s.profiles?.includes('gpu'),
);

test('every implemented service runs in compose, on its registry port', () => {
  const ran = new Set(serving.map(([, s]) => s.command![1]));
  for (const def of services) assert.ok(ran.has(def.name), `${def.name} is in compose.yaml`);
  for (const [name, s] of serving) {
    const def = findService(s.command![1]!);
    assert.ok(def, `${name}: serve ${s.command![1]} is an implemented service`);
    const standby = s.command!.includes('--follow');
    const want = standby ? ports['memory-core-standby'] : ports[def.port];
    assert.equal(Number(s.environment?.PORT), want, `${name}: PORT is the registry port ${want}`);
  }
  assert.equal(compose.services['synthians_core']?.command?.[1], 'memory-core');
  assert.deepEqual(compose.services['memory-core']?.command, [
    'serve',
    'memory-core',
    '--follow',
    'http://synthians_core:5010',
  ]);
  const standby = compose.services['memory-core']!.environment!;
  assert.equal(standby.MEMORY_STORAGE_PATH, '/app/memory/stored/memory-core');
  assert.equal(standby.EMBEDDING_DIM, '768');
  assert.equal(compose.services['trainer-server']?.environment?.MEMORY_CORE_URL, 'http://memory-core:5020');
  assert.equal(
    compose.services.orchestrator?.environment?.MEMORY_CORE_URL,
    'http://synthians_core:5010,http://memory-core:5020',
    'the orchestrator uses the primary, the standby as fallback',
  );
});

test('every variable compose sets exists in that service’s configuration schema', () => {
  for (const [name, s] of serving) {
    const def = findService(s.command![1]!)!;
    const known = new Set(Object.keys(def.config.shape));
    for (const key of Object.keys(s.environment ?? {}))
      assert.ok(known.has(key) || RUNNER_VARIABLES.has(key), `${name}: ${key} is a variable of ${def.name}`);
    // And the values parse.
    const env = Object.fromEntries(
      Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
    );
    const parsed = def.config.safeParse(env);
    assert.ok(parsed.success, `${name}: its environment is valid (${parsed.error?.message ?? ''})`);
  }
  const setup = compose.services['db-setup']!;
  assert.deepEqual(setup.command?.slice(0, 2), ['db', 'migrate']);
  assert.doesNotThrow(() =>
    loadSessionMemoryConfig({ DATABASE_URL: 'postgres://u:p@postgres:5432/synthians' }),
  );
});

test('URLs between services name compose services on their registry ports', () => {
  const byName = new Map(serving.map(([name, s]) => [name, Number(s.environment?.PORT)]));
  for (const [name, s] of Object.entries(compose.services)) {
    for (const [key, value] of Object.entries(s.environment ?? {})) {
      if (!/_URL$|_TARGETS$/.test(key) || key === 'DATABASE_URL' || key === 'NATS_URL') continue;
      for (const m of String(value).matchAll(/http:\/\/([a-z0-9_-]+):(\d+)/g)) {
        assert.ok(byName.has(m[1]!), `${name}.${key}: ${m[1]} is a compose service`);
        assert.equal(Number(m[2]), byName.get(m[1]!), `${name}.${key}: ${m[1]} listens on ${m[2]}`);
      }
    }
  }
  const targets = String(compose.services['health-monitor']?.environment?.HEALTH_TARGETS);
  for (const [name, s] of serving)
    if (s.command![1] !== 'health-monitor')
      assert.ok(targets.includes(`://${name}:`), `the health monitor watches ${name}`);
});

test('health checks, restart policies, start order and networks', () => {
  for (const [name, s] of Object.entries(compose.services)) {
    assert.ok(s.healthcheck, `${name} has a healthcheck`);
    if (name === 'db-setup') {
      assert.equal(s.restart, 'no', 'db-setup is one-shot');
      continue;
    }
    assert.ok(s.healthcheck.test && s.healthcheck.test.length > 0, `${name}: a health test`);
    assert.equal(s.restart, 'unless-stopped', `${name}: restart policy`);
    const port = s.environment?.PORT;
    if (s.command?.[0] === 'serve')
      assert.match(
        s.healthcheck.test.join(' '),
        new RegExp(`127\\.0\\.0\\.1:${port}/health`),
        `${name}: checks its own port`,
      );
    for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
      assert.ok(compose.services[dep], `${name} depends on ${dep}, a compose service`);
      assert.match(cond.condition, /^service_(healthy|completed_successfully)$/);
    }
  }
  for (const name of ['session-memory', 'memory-orchestrator', 'coordinator', 'memory-reasoning'])
    assert.equal(
      compose.services[name]?.depends_on?.['db-setup']?.condition,
      'service_completed_successfully',
      `${name} waits for db-setup`,
    );
  assert.equal(compose.networks.voice_assistant_network?.internal, true);
  assert.equal(compose.networks.monitoring_network?.external, true);
  for (const name of ['postgres', 'prometheus'])
    assert.ok(
      (compose.services[name]?.networks as string[] | undefined)?.includes('monitoring_network'),
      `${name} on monitoring_network`,
    );
});

test('secure defaults: a token everywhere, only the coordinator published and only on loopback', () => {
  for (const [name, s] of serving) {
    assert.equal(s.environment?.HOST, '0.0.0.0', `${name} listens in its container`);
    assert.match(
      String(s.environment?.SYNTHIANS_API_TOKEN),
      /^\$\{SYNTHIANS_API_TOKEN:\?/,
      `${name}: token required`,
    );
  }
  for (const [name, s] of Object.entries(compose.services))
    for (const p of s.ports ?? [])
      assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p} on loopback only`);
  const published = Object.entries(compose.services).filter(([, s]) => s.ports && !s.profiles);
  assert.deepEqual(
    published.map(([n]) => n),
    ['coordinator'],
  );
  assert.doesNotMatch(
    read('compose.yaml'),
    /SYNTHIANS_API_TOKEN=\w|POSTGRES_PASSWORD=\w/,
    'no secret in the file',
  );
  assert.match(read('.dockerignore'), /^\.env$/m, '.env stays out of images');
  assert.match(read('.gitignore'), /^\.env$/m, '.env stays out of git');
});

test('Prometheus scrapes every service; the Dockerfile has every target compose builds', () => {
  const prom = parse(read('deploy/monitoring/prometheus.yml')) as {
    scrape_configs: { static_configs: { targets: string[] }[] }[];
  };
  const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  for (const [name, s] of serving)
    assert.ok(targets.includes(`${name}:${s.environment?.PORT}`), `scrapes ${name}`);
  const dockerfile = read('Dockerfile');
  for (const [name, s] of Object.entries(compose.services)) {
    if (!s.build) continue;
    assert.match(
      dockerfile,
      new RegExp(`^FROM runtime AS ${s.build.target}$`, 'm'),
      `${name}: target ${s.build.target}`,
    );
  }
  assert.match(dockerfile, /^HEALTHCHECK /m);
  assert.match(dockerfile, /ONNXRUNTIME_NODE_INSTALL=skip/);
  assert.doesNotMatch(
    dockerfile
      .split(/^FROM runtime AS /m)
      .slice(1)
      .join(''),
    /^USER root/m,
  );
  for (const stage of dockerfile.split(/^FROM runtime AS /m).slice(1))
    assert.match(stage, /^USER node$/m, `stage ${stage.split('\n')[0]} runs as node`);
});

test('the Grafana dashboard queries metrics the services export', () => {
  const dash = JSON.parse(read('deploy/monitoring/grafana/dashboards/synthians.json')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const sources = [
    'packages/kit/src/http.ts',
    'packages/assistant/src/coordinator/service.ts',
    'packages/memory-core/src/service.ts',
    'packages/orchestrator/src/service.ts',
    'packages/orchestrator/src/api.ts',
  ]
    .map(read)
    .join('\n');
  const exported = new Set([...sources.matchAll(/name: '([a-z_]+)'/g)].map((m) => m[1]!));
  exported.add('up');
  const titles = dash.panels.map((p) => p.title).join(' | ');
  for (const want of ['Request rate', 'latency', 'Turn stage', 'Memories', 'Surprise'])
    assert.ok(titles.includes(want), `a panel for ${want}`);
  for (const panel of dash.panels)
    for (const t of panel.targets)
      for (const m of t.expr.matchAll(/([a-z_]+)(?:_bucket|_count|_sum)?(?=[{[(\s]|$)/g)) {
        const name = m[1]!.replace(/_(bucket|count|sum)$/, '');
        if (/^(sum|max|rate|increase|histogram_quantile|by|le|service|stage|channel|skill|step)$/.test(name))
          continue;
        assert.ok(exported.has(name), `${panel.title}: ${name} is exported`);
      }
});

test('the PC2 worker: CPU by default (COMPOSE_PROFILES=cpu), a GPU variant under the gpu profile answering as pc2', () => {
  const cpu = compose.services.pc2!;
  const gpu = compose.services['pc2-gpu']!;
  assert.deepEqual(cpu.profiles, ['cpu']);
  assert.deepEqual(gpu.profiles, ['gpu']);
  assert.match(read('.env.example'), /^COMPOSE_PROFILES=cpu$/m, 'the example .env runs the CPU variant');
  assert.deepEqual(gpu.command, cpu.command);
  assert.equal(gpu.environment?.PORT, cpu.environment?.PORT);
  assert.equal(gpu.environment?.PC2_EXECUTION_PROVIDER, 'cuda');
  const nets = gpu.networks as Record<string, { aliases?: string[] }>;
  assert.deepEqual(nets.voice_assistant_network?.aliases, ['pc2'], 'reached as pc2 by the other services');
  const device = gpu.deploy?.resources?.reservations?.devices?.[0];
  assert.equal(device?.driver, 'nvidia');
  assert.deepEqual(device?.capabilities, ['gpu']);
  assert.equal(gpu.build?.args?.ONNXRUNTIME_NODE_INSTALL, 'cuda12', 'the image carries the CUDA provider');
  // Nothing waits for a worker that may not run: the coordinator falls back to its own engines.
  for (const [name, s] of Object.entries(compose.services))
    assert.ok(!s.depends_on?.pc2 && !s.depends_on?.['pc2-gpu'], `${name} does not wait for the PC2 worker`);
  assert.equal(compose.services.coordinator?.environment?.PC2_URL, 'http://pc2:5560');
});
