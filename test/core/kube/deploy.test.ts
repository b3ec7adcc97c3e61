/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// Integration: the deploy engine and `tracelab deploy demo` against a real local control plane
// (etcd, kube-apiserver with Pod Security admission, controller-manager, scheduler, kwok nodes).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubernetesObject, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { UserError } from '../../../core/errors.ts';
import { createRecordingOutput } from '../../../core/output.ts';
import { deployLayer } from '../../../core/kube/apply.ts';
import { createKube, type KubeClient } from '../../../core/kube/client.ts';
import { localCluster, tracelab } from './local-cluster.ts';
import { KubeApiError } from '../../../core/kube/errors.ts';
import { teardownLayer } from '../../../core/kube/teardown.ts';
import { parseDemoOptions } from '../../../demo/options.ts';
import { renderDemo } from '../../../demo/render.ts';

const images = 'frontend=registry.invalid/tracelab/frontend:v1,backend=registry.invalid/tracelab/backend:v1';
const demoKinds: [string, string][] = [
  ['v1', 'Namespace'],
  ['v1', 'ServiceAccount'],
  ['v1', 'Service'],
  ['apps/v1', 'Deployment'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['policy/v1', 'PodDisruptionBudget'],
];

const cluster = localCluster(2);

async function layerObjects(kube: KubeClient, layer: string): Promise<KubernetesObject[]> {
  const lists = await Promise.all(demoKinds.map(([apiVersion, kind]) => kube.list(apiVersion, kind, { labelSelector: `tracelab.dev/layer=${layer}` })));
  return lists.flatMap((list) => list.items);
}

/** When our field manager last wrote each object: unchanged by a no-op server-side apply. */
function lastApplied(objects: KubernetesObject[]): Record<string, string> {
  return Object.fromEntries(
    objects.map((o) => {
      const entry = o.metadata?.managedFields?.find((f) => f.manager === 'tracelab-demo' && f.operation === 'Apply');
      return [`${o.kind ?? ''}/${o.metadata?.name ?? ''}`, `${String(entry?.time)} gen=${String(o.metadata?.generation)}`];
    }),
  );
}

describe('deployLayer() and tracelab deploy demo against a real control plane', () => {
  it('--dry-run reports what would be created and persists nothing', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const run = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--dry-run']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /\+ Deployment tracelab-demo\/backend created/);
    assert.match(run.stderr, /demo: 19 created, 0 changed, 0 unchanged, 0 pruned \(dry run/);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'tracelab-demo' }), undefined);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'tracelab-layer-demo', namespace: 'kube-system' }), undefined);
  });

  it('deploys the demo and waits until both Deployments are available', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const run = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--timeout', '2m']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /demo: 19 created, 0 changed, 0 unchanged, 0 pruned/);
    for (const name of ['frontend', 'backend']) {
      const deployment: V1Deployment | undefined = await env.kube.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: 'tracelab-demo' });
      assert.equal(deployment?.status?.availableReplicas, 2, `${name} available replicas`);
    }
  });

  it('admits every demo pod under Pod Security restricted, and the namespace refuses a privileged pod', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const namespace = await env.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'tracelab-demo' });
    assert.equal(namespace?.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    const pods = await env.kube.list<V1Pod>('v1', 'Pod', { namespace: 'tracelab-demo' });
    assert.equal(pods.items.length, 4);
    const privileged = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged', namespace: 'tracelab-demo' },
      spec: { containers: [{ name: 'server', image: 'registry.invalid/x:1', securityContext: { privileged: true } }] },
    };
    const path = await env.kube.path({ apiVersion: 'v1', kind: 'Pod', namespace: 'tracelab-demo' });
    await assert.rejects(env.kube.request('POST', path, { body: privileged }), /violates PodSecurity "restricted:latest"/);
  });

  it('reports 0 changes on a second run and writes nothing', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const before = lastApplied(await layerObjects(env.kube, 'demo'));
    const started = Date.now();
    const run = await tracelab(env.cp, ['deploy', 'demo', '--images', images]);
    assert.equal(run.status, 0, run.stderr);
    t.diagnostic(`no-change re-run took ${Date.now() - started} ms including node startup`);
    assert.match(run.stderr, /demo: 0 created, 0 changed, 19 unchanged, 0 pruned/);
    assert.deepEqual(lastApplied(await layerObjects(env.kube, 'demo')), before);
  });

  it('reports exactly the value that changed', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const latency = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--backend-latency-ms', '50']);
    assert.equal(latency.status, 0, latency.stderr);
    assert.match(latency.stderr, /demo: 0 created, 1 changed, 18 unchanged, 0 pruned/);
    const changeLines = latency.stderr.split('\n').filter((line) => line.startsWith('~'));
    assert.deepEqual(changeLines, ['~ Deployment tracelab-demo/backend: spec.template.spec.containers[server].env[BACKEND_LATENCY_MS] (none) → {"name":"BACKEND_LATENCY_MS","value":"50"}']);

    const replicas = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--backend-latency-ms', '50', '--replicas', '3']);
    assert.equal(replicas.status, 0, replicas.stderr);
    // The Deployments' replica count belongs to their autoscalers after creation: the new floor goes to the HPAs.
    const lines = replicas.stderr.split('\n').filter((line) => line.startsWith('~')).sort();
    assert.deepEqual(lines, [
      '~ HorizontalPodAutoscaler tracelab-demo/backend: spec.minReplicas 2 → 3',
      '~ HorizontalPodAutoscaler tracelab-demo/frontend: spec.minReplicas 2 → 3',
    ]);
  });

  it('prunes an object the layer no longer renders', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const options = parseDemoOptions({ images, replicas: '3', 'backend-latency-ms': '50' });
    const objects = renderDemo(options).filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata?.name === 'backend'));
    const report = await deployLayer(env.kube, { layer: 'demo', objects, dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() });
    assert.deepEqual(
      report.outcomes.filter((o) => o.action !== 'unchanged').map((o) => `${o.action} ${o.ref.kind} ${o.ref.name}`),
      ['pruned PodDisruptionBudget backend'],
    );
    assert.equal(await env.kube.get({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: 'backend', namespace: 'tracelab-demo' }), undefined);
  });

  it('rejects an unknown field, naming the object and the field', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const objects = renderDemo(parseDemoOptions({ images, replicas: '3', 'backend-latency-ms': '50' })).map((o) => {
      if (o.kind !== 'Deployment' || o.metadata?.name !== 'backend') return o;
      const bad = structuredClone(o) as V1Deployment & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
      const container = bad.spec.template.spec.containers[0];
      if (container !== undefined) container.bogus = true;
      return bad;
    });
    const err = await deployLayer(env.kube, { layer: 'demo', objects, dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() }).catch((e: unknown) => e);
    assert.ok(err instanceof Error && err.name === 'UserError', String(err));
    assert.match(err.message, /^apply Deployment tracelab-demo\/backend: \.spec\.template\.spec\.containers\[name="server"\]\.bogus: field not declared in schema$/);
  });

  it('writes nothing when one object of a new layer is invalid', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const objects = renderDemo(parseDemoOptions({ images, namespace: 'tracelab-invalid' })).map((o) =>
      o.kind === 'Service' && o.metadata?.name === 'frontend' ? { ...o, spec: { ...(o as { spec: object }).spec, colour: 'blue' } } : o,
    );
    const err = await deployLayer(env.kube, { layer: 'invalid', objects, dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() }).catch((e: unknown) => e);
    assert.ok(err instanceof Error, String(err));
    assert.match(err.message, /^apply Service tracelab-invalid\/frontend: \.spec\.colour: field not declared in schema$/);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'tracelab-invalid' }), undefined);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'tracelab-layer-invalid', namespace: 'kube-system' }), undefined);
  });

  it('gives up with one clear error while the apiserver is down, and a re-run completes without duplicates', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const objects = renderDemo(parseDemoOptions({ images, replicas: '2', 'backend-latency-ms': '50' }));
    await env.cp.stopApiserver();
    const started = Date.now();
    const err = await deployLayer(env.kube, { layer: 'demo', objects, dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    assert.ok(err instanceof Error && err.name === 'UserError', String(err));
    assert.match(err.message, /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.* \(gave up after 3 attempts in \d+\.\ds\) — check that the cluster is up/);
    assert.ok(!err.message.includes('\n'), err.message);
    assert.ok(elapsed < 10_000, `gave up within the retry bound (${elapsed} ms)`);

    await env.cp.startApiserver();
    const report = await deployLayer(env.kube, { layer: 'demo', objects, dryRun: false, timeoutMs: 120_000, output: createRecordingOutput() });
    assert.equal(report.outcomes.length, 19);
    assert.ok(await env.kube.get({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: 'backend', namespace: 'tracelab-demo' }));
    const deployments = await env.kube.list<V1Deployment>('apps/v1', 'Deployment', { namespace: 'tracelab-demo' });
    assert.deepEqual(deployments.items.map((d) => d.metadata?.name).sort(), ['backend', 'frontend']);
    const backend = deployments.items.find((d) => d.metadata?.name === 'backend');
    const pods = await env.kube.list<V1Pod>('v1', 'Pod', { namespace: 'tracelab-demo', labelSelector: 'app=backend' });
    assert.equal(pods.items.filter((p) => p.metadata?.deletionTimestamp === undefined).length, backend?.spec?.replicas, 'one pod per replica, no duplicates');
  });

  it('times out on a rollout that cannot become ready, naming the Deployment and the reason', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const objects: KubernetesObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tracelab-stuck' } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'hungry', namespace: 'tracelab-stuck' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'hungry' } },
          template: {
            metadata: { labels: { app: 'hungry' } },
            spec: { containers: [{ name: 'server', image: 'registry.invalid/x:1', resources: { requests: { cpu: '64' } } }] },
          },
        },
      } as V1Deployment,
    ];
    const err = await deployLayer(env.kube, { layer: 'stuck', objects, dryRun: false, timeoutMs: 8_000, output: createRecordingOutput() }).catch((e: unknown) => e);
    assert.ok(err instanceof Error, String(err));
    assert.match(err.message, /^timed out after 8s waiting for rollout:\n {2}Deployment tracelab-stuck\/hungry: 0 of 1 updated replicas available/);
    assert.match(err.message, /Available=False MinimumReplicasUnavailable/);
    assert.match(err.message, /FailedScheduling: 0\/2 nodes are available: 2 Insufficient cpu/);
    await teardownLayer(env.kube, { layer: 'stuck', dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() });
  });

  it('goes through client-node for a kubeconfig with a credential plugin', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    // The same cluster, but the user's credential comes from an exec plugin (a token this
    // apiserver does not accept): the request must arrive and be refused, not fail to load.
    const dir = mkdtempSync(join(tmpdir(), 'tracelab-exec-kubeconfig-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const plugin = join(dir, 'credential.sh');
    writeFileSync(plugin, '#!/bin/sh\necho \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"not-a-valid-token"}}\'\n', { mode: 0o755 });
    const config = parse(readFileSync(env.cp.kubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    for (const entry of config.users) entry.user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } };
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, stringify(config));
    const kube = createKube({ kubeconfig });
    try {
      // The client turns the 401 into one line naming the server, the context and the fix (exit 4).
      await assert.rejects(
        kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' }),
        (err: unknown) => err instanceof UserError && err.exitCode === 4 && err.cause instanceof KubeApiError && err.cause.status === 401,
      );
      const user = kube.config.getCurrentUser() as { exec?: { command?: string } } | null;
      assert.equal(user?.exec?.command, plugin);
    } finally {
      await kube.close();
    }
  });

  it('reads certificates a kubeconfig names by paths relative to itself', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'tracelab-relative-kubeconfig-'));
    t.after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const config = parse(readFileSync(env.cp.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[]; users: { user: Record<string, unknown> }[] };
    mkdirSync(join(dir, 'pki'));
    const toFile = (data: unknown, file: string): string => {
      writeFileSync(join(dir, 'pki', file), Buffer.from(String(data), 'base64'));
      return `pki/${file}`;
    };
    for (const entry of config.clusters) {
      const { 'certificate-authority-data': ca, ...rest } = entry.cluster;
      entry.cluster = { ...rest, 'certificate-authority': toFile(ca, 'ca.crt') };
    }
    for (const entry of config.users) {
      const { 'client-certificate-data': cert, 'client-key-data': key, ...rest } = entry.user;
      entry.user = { ...rest, 'client-certificate': toFile(cert, 'admin.crt'), 'client-key': toFile(key, 'admin.key') };
    }
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, stringify(config));
    const kube = createKube({ kubeconfig });
    try {
      assert.equal((await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' }))?.metadata?.name, 'default');
    } finally {
      await kube.close();
    }
  });

  it('tears the demo down and leaves no object of the layer', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const run = await tracelab(env.cp, ['teardown', 'demo', '--timeout', '2m']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /demo: 19 deleted/);
    assert.deepEqual(await layerObjects(env.kube, 'demo'), []);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'tracelab-demo' }), undefined);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'tracelab-layer-demo', namespace: 'kube-system' }), undefined);
    assert.deepEqual((await env.kube.list('v1', 'Pod', { namespace: 'tracelab-demo' })).items, []);
  });
});
