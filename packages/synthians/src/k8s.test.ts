// The Kubernetes manifests (deploy/k8s/base): generated from compose.yaml and committed up to date, every object
// valid against the Kubernetes schemas (kubernetes-models), and the ports those of the registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { Service, Namespace } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ports } from '@synthians/kit';
import { generate, K8S_DIR } from '../../../scripts/k8s.ts';
import { findService, services } from './services.ts';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Service: Service as never,
  Namespace: Namespace as never,
  Deployment: Deployment as never,
  StatefulSet: StatefulSet as never,
  Job: Job as never,
};

test('the committed manifests are what scripts/k8s.ts generates from compose.yaml', () => {
  for (const [file, text] of generate())
    assert.equal(
      readFileSync(path.join(K8S_DIR, file), 'utf8'),
      text,
      `${file} is up to date (npm run k8s:generate)`,
    );
});

test('every object is valid against the Kubernetes schemas; probes, ports and the Secret', () => {
  const kustomization = parse(readFileSync(path.join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
    secretGenerator: { name: string; envs: string[] }[];
  };
  assert.equal(kustomization.secretGenerator[0]?.name, 'synthians-secrets');
  const served = new Set<string>();
  for (const file of kustomization.resources) {
    const docs = parseAllDocuments(readFileSync(path.join(K8S_DIR, file), 'utf8')).map(
      (d) => d.toJS() as never,
    );
    for (const doc of docs) {
      const { kind } = doc as { kind: string };
      const Model = MODELS[kind];
      assert.ok(Model, `${file}: a known kind (${kind})`);
      assert.doesNotThrow(() => new Model(doc).validate(), `${file}: ${kind} is valid`);
      if (kind !== 'Deployment' && kind !== 'StatefulSet') continue;
      const spec = (doc as { spec: { template: { spec: { containers: Record<string, never>[] } } } }).spec;
      const c = spec.template.spec.containers[0] as unknown as {
        args: string[];
        ports: { containerPort: number }[];
        env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string } } }[];
        livenessProbe: { httpGet: { path: string } };
        readinessProbe: { httpGet: { path: string } };
      };
      const def = findService(c.args[1]!)!;
      assert.ok(def, `${file}: serves ${c.args[1]}`);
      served.add(def.name);
      const want = c.args.includes('--follow') ? ports['memory-core-standby'] : ports[def.port];
      assert.equal(c.ports[0]?.containerPort, want, `${file}: the registry port`);
      assert.equal(c.livenessProbe.httpGet.path, '/health');
      assert.equal(c.readinessProbe.httpGet.path, '/ready');
      const token = c.env.find((e) => e.name === 'SYNTHIANS_API_TOKEN');
      assert.equal(
        token?.valueFrom?.secretKeyRef.name,
        'synthians-secrets',
        `${file}: the token from the Secret`,
      );
      for (const e of c.env)
        assert.doesNotMatch(e.value ?? '', /\$\{/, `${file}: ${e.name} has no compose interpolation`);
    }
  }
  for (const def of services) assert.ok(served.has(def.name), `${def.name} has a workload`);
});

test('the image workflow builds every Dockerfile target on version tags', () => {
  const wf = parse(readFileSync(path.join(K8S_DIR, '../../../.github/workflows/images.yml'), 'utf8')) as {
    on: { push: { tags: string[] } };
    jobs: { images: { strategy: { matrix: { target: string[] } } } };
  };
  assert.deepEqual(wf.on.push.tags, ['v*']);
  const dockerfile = readFileSync(path.join(K8S_DIR, '../../../Dockerfile'), 'utf8');
  const targets = [...dockerfile.matchAll(/^FROM runtime AS (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual([...wf.jobs.images.strategy.matrix.target].sort(), [...targets].sort());
});
