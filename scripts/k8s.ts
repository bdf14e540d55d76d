// Generates the Kubernetes manifests (deploy/k8s/base, a kustomize base) from compose.yaml, so the two cannot drift:
// the same services, images, commands, ports and environment. Per service: a Deployment (a StatefulSet with a
// PersistentVolumeClaim template for the stateful ones) and a ClusterIP Service; probes on /health (liveness) and
// /ready (readiness); the token from a Secret made by kustomize's secretGenerator (secrets.env, not committed).
//
//   npm run k8s:generate            # rewrite deploy/k8s/base
//   node --import tsx scripts/k8s.ts --check   # exit 1 when the committed manifests are out of date
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
export const K8S_DIR = path.join(root, 'deploy', 'k8s', 'base');

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  profiles?: string[];
}

/** Services with their own store: a StatefulSet with a volume per replica. */
const STATEFUL = new Set([
  'synthians_core',
  'memory-core',
  'trainer-server',
  'postgres',
  'nats',
  'dreamworld',
  'pc2',
]);
const DNS = (name: string) => name.replaceAll('_', '-');

/** compose's `${VAR}` / `${VAR:-default}` / `${VAR:?msg}`: the token and password come from the Secret. */
function envFor(environment: Record<string, string>): object[] {
  const out: object[] = [];
  for (const [key, raw] of Object.entries(environment)) {
    const value = String(raw);
    if (/^\$\{SYNTHIANS_API_TOKEN/.test(value)) {
      out.push({
        name: key,
        valueFrom: { secretKeyRef: { name: 'synthians-secrets', key: 'SYNTHIANS_API_TOKEN' } },
      });
      continue;
    }
    if (value.includes('${POSTGRES_PASSWORD')) {
      out.push({
        name: 'POSTGRES_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'synthians-secrets', key: 'POSTGRES_PASSWORD' } },
      });
      out.push({ name: key, value: value.replace(/\$\{POSTGRES_PASSWORD[^}]*\}/, '$(POSTGRES_PASSWORD)') });
      continue;
    }
    out.push({
      name: key,
      value: value.replace(/\$\{[A-Z0-9_]+(?::-([^}]*))?[^}]*\}/g, (_m, d: string | undefined) => d ?? ''),
    });
  }
  // compose service names with "_" are not DNS names: the Service is called with "-".
  return out.map((e) =>
    'value' in e
      ? { ...e, value: String((e as { value: string }).value).replaceAll('synthians_core', 'synthians-core') }
      : e,
  );
}

export function generate(): Map<string, string> {
  const compose = parse(readFileSync(path.join(root, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const files = new Map<string, string>();
  const resources: string[] = [];
  const labels = (name: string) => ({
    'app.kubernetes.io/name': DNS(name),
    'app.kubernetes.io/part-of': 'synthians',
  });
  for (const [name, s] of Object.entries(compose.services)) {
    if (s.command?.[0] !== 'serve') continue;
    // The GPU variant of the PC2 worker is a compose profile; on Kubernetes, patch the pc2 workload in an overlay
    // (resources.limits nvidia.com/gpu, PC2_EXECUTION_PROVIDER=cuda, the CUDA image): docs/deployment.md.
    if (s.profiles?.includes('gpu')) continue;
    const port = Number(s.environment?.PORT);
    const extraPorts = s.environment?.DREAM_PUB_PORT
      ? [{ name: 'pub', containerPort: Number(s.environment.DREAM_PUB_PORT) }]
      : [];
    const container = {
      name: DNS(name),
      image: String(s.image).replace('${SYNTHIANS_VERSION:-dev}', 'dev'),
      args: s.command.map((a) => a.replaceAll('synthians_core', 'synthians-core')),
      ports: [{ name: 'http', containerPort: port }, ...extraPorts],
      env: envFor(s.environment ?? {}),
      livenessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
      readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
      startupProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5, failureThreshold: 24 },
      resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: false,
      },
      volumeMounts: [
        {
          name: 'data',
          mountPath: s.environment?.MEMORY_STORAGE_PATH
            ? '/app/memory'
            : s.environment?.SYNTHIANS_MODELS_DIR
              ? String(s.environment.SYNTHIANS_MODELS_DIR)
              : '/app/data',
        },
      ],
    };
    const stateful = STATEFUL.has(name);
    const podSpec = {
      securityContext: { fsGroup: 1000 },
      containers: [container],
      ...(stateful ? {} : { volumes: [{ name: 'data', emptyDir: {} }] }),
    };
    const workload = stateful
      ? {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: DNS(name), labels: labels(name) },
          spec: {
            serviceName: DNS(name),
            replicas: 1,
            selector: { matchLabels: labels(name) },
            template: { metadata: { labels: labels(name) }, spec: podSpec },
            volumeClaimTemplates: [
              {
                metadata: { name: 'data' },
                spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
              },
            ],
          },
        }
      : {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: DNS(name), labels: labels(name) },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels(name) },
            template: { metadata: { labels: labels(name) }, spec: podSpec },
          },
        };
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: DNS(name), labels: labels(name) },
      spec: {
        selector: labels(name),
        ports: [
          { name: 'http', port, targetPort: 'http' },
          ...extraPorts.map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name })),
        ],
      },
    };
    const file = `${DNS(name)}.yaml`;
    files.set(file, `${stringify(workload)}---\n${stringify(service)}`);
    resources.push(file);
  }
  // The database setup: a Job (compose's one-shot db-setup); services start with MIGRATE_ON_START=false.
  const setup = compose.services['db-setup'];
  if (setup?.command) {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'db-setup', labels: labels('db-setup') },
      spec: {
        backoffLimit: 6,
        template: {
          metadata: { labels: labels('db-setup') },
          spec: {
            restartPolicy: 'OnFailure',
            securityContext: { runAsNonRoot: true, runAsUser: 1000 },
            containers: [
              {
                name: 'db-setup',
                image: String(setup.image).replace('${SYNTHIANS_VERSION:-dev}', 'dev'),
                args: setup.command,
                env: envFor(setup.environment ?? {}),
              },
            ],
          },
        },
      },
    };
    files.set('db-setup.yaml', stringify(job));
    resources.push('db-setup.yaml');
  }
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: 'synthians',
    labels: [{ pairs: { 'app.kubernetes.io/part-of': 'synthians' } }],
    resources: ['namespace.yaml', ...resources.sort()],
    secretGenerator: [{ name: 'synthians-secrets', envs: ['secrets.env'] }],
    generatorOptions: { disableNameSuffixHash: true },
  };
  files.set(
    'namespace.yaml',
    stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'synthians' } }),
  );
  files.set('kustomization.yaml', stringify(kustomization));
  files.set(
    'secrets.env.example',
    '# Copy to secrets.env (never commit it): kustomize makes the Secret synthians-secrets from it.\nSYNTHIANS_API_TOKEN=\nPOSTGRES_PASSWORD=\n',
  );
  const header =
    '# Generated by scripts/k8s.ts from compose.yaml — do not edit; run `npm run k8s:generate`.\n';
  for (const [f, text] of files) if (f.endsWith('.yaml')) files.set(f, header + text);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = generate();
  if (process.argv.includes('--check')) {
    const stale = [...files].filter(([f, text]) => {
      try {
        return readFileSync(path.join(K8S_DIR, f), 'utf8') !== text;
      } catch {
        return true;
      }
    });
    if (stale.length > 0) {
      process.stderr.write(`out of date: ${stale.map(([f]) => f).join(', ')} (npm run k8s:generate)\n`);
      process.exit(1);
    }
  } else {
    mkdirSync(K8S_DIR, { recursive: true });
    for (const f of readdirSync(K8S_DIR)) if (f !== 'secrets.env') rmSync(path.join(K8S_DIR, f));
    for (const [f, text] of files) writeFileSync(path.join(K8S_DIR, f), text);
    process.stdout.write(`wrote ${files.size} files to ${path.relative(root, K8S_DIR)}\n`);
  }
}
