// Integration on the local control plane (real API server, kwok nodes: pods get Ready, no container
// runs): `tracelab up storage` applies, a re-run changes nothing, another default StorageClass keeps
// tracelab-local-path from becoming a second default, the registry's no-StorageClass warning names
// the fix, and teardown leaves nothing — cluster-scoped objects included.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1ConfigMap, V1PersistentVolumeClaim, V1Pod, V1StorageClass } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { provisionerName, storageClassName, storageNamespace } from '../../storage/render.ts';
import { requireComponent } from '../../testenv/components.ts';
import { localCluster, tracelab } from '../core/kube/local-cluster.ts';

const cluster = localCluster(1);

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${String(timeoutMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Every object carrying the storage layer's label, of the kinds it renders. */
async function storageObjects(kube: NonNullable<Awaited<ReturnType<typeof cluster>>>['kube']): Promise<string[]> {
  const kinds: [string, string][] = [
    ['v1', 'Namespace'],
    ['v1', 'ServiceAccount'],
    ['v1', 'ConfigMap'],
    ['apps/v1', 'Deployment'],
    ['storage.k8s.io/v1', 'StorageClass'],
    ['rbac.authorization.k8s.io/v1', 'ClusterRole'],
    ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'],
    ['rbac.authorization.k8s.io/v1', 'Role'],
    ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
    ['networking.k8s.io/v1', 'NetworkPolicy'],
  ];
  const found = await Promise.all(kinds.map(async ([apiVersion, kind]) => (await kube.list<KubernetesObject>(apiVersion, kind, { labelSelector: 'tracelab.dev/layer=storage' })).items.map((o) => `${kind} ${o.metadata?.name ?? ''}`)));
  return found.flat().sort();
}

describe('tracelab up/teardown storage on the local control plane', () => {
  it('the registry, on a cluster without a default StorageClass, says so and names `tracelab up storage`', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    const run = await tracelab(c.cp, ['--dry-run', 'up', 'registry']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /the cluster has no default StorageClass: .* `tracelab up storage` makes volumes on the nodes' disks the default/);
  });

  it('applies the layer as the default StorageClass; a second run changes nothing; the registry then takes a claim', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    const first = await tracelab(c.cp, ['up', 'storage', '--timeout', '2m']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /storage: 11 created/);
    const storageClass = await c.kube.get<V1StorageClass>({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', name: storageClassName });
    assert.equal(storageClass?.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], 'true');
    const again = await tracelab(c.cp, ['up', 'storage']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /storage: 0 created, 0 changed, 11 unchanged, 0 pruned/);
    const registry = await tracelab(c.cp, ['--dry-run', 'up', 'registry']);
    assert.equal(registry.status, 0, registry.stderr);
    assert.doesNotMatch(registry.stderr, /no default StorageClass/);
    assert.match(registry.stderr, /\+ PersistentVolumeClaim tracelab-registry\/registry-data created/);
  });

  it('never makes a second default: beside another default class it drops its own annotation, in one warning line, and takes it back once that class is gone', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    await c.cp.kubectl(['create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'site-default', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }, provisioner: 'example.com/nfs' }),
    });
    const beside = await tracelab(c.cp, ['up', 'storage']);
    assert.equal(beside.status, 0, beside.stderr);
    const warnings = beside.stderr.split('\n').filter((line) => line.includes('site-default'));
    assert.equal(warnings.length, 1, beside.stderr);
    assert.match(warnings[0] ?? '', /the cluster's default StorageClass is site-default: tracelab-local-path is installed beside it, not as a second default .* pass --default-class false/);
    assert.match(beside.stderr, /~ StorageClass tracelab-local-path/);
    const storageClass = await c.kube.get<V1StorageClass>({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', name: storageClassName });
    assert.equal(storageClass?.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], undefined);
    const quiet = await tracelab(c.cp, ['up', 'storage', '--default-class', 'false']);
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /site-default/);
    assert.match(quiet.stderr, /storage: 0 created, 0 changed/);

    await c.cp.kubectl(['delete', 'storageclass', 'site-default']);
    const back = await tracelab(c.cp, ['up', 'storage']);
    assert.equal(back.status, 0, back.stderr);
    const restored = await c.kube.get<V1StorageClass>({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', name: storageClassName });
    assert.equal(restored?.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], 'true');
  });

  it("the provisioner's rights are enough: the real program, with its ServiceAccount's token and the layer's config, provisions and deletes a volume", async (t) => {
    const c = await cluster(t);
    const binary = requireComponent(t, 'local-path-provisioner');
    if (c === undefined || binary === undefined) return;
    // Run here, out of the cluster (kwok runs no container), with exactly the rights the layer gives it.
    const work = mkdtempSync(join(tmpdir(), 'tracelab-storage-rbac-'));
    const token = (await c.cp.kubectl(['create', 'token', '-n', storageNamespace, 'local-path-provisioner'])).trim();
    const admin = parse(readFileSync(c.cp.kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    writeFileSync(join(work, 'kubeconfig'), stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: admin.clusters[0]?.cluster }], users: [{ name: 'sa', user: { token } }], contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }], 'current-context': 'sa' }));
    const config = await c.kube.get<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', name: 'local-path-config', namespace: storageNamespace });
    for (const [key, value] of Object.entries(config?.data ?? {})) writeFileSync(join(work, key), value);
    const args = ['start', '--config', join(work, 'config.json'), '--helper-pod-file', join(work, 'helperPod.yaml'), '--provisioner-name', provisionerName, '--service-account-name', 'local-path-provisioner', '--namespace', storageNamespace, '--kubeconfig', join(work, 'kubeconfig')];
    const provisioner = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    provisioner.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    provisioner.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const helperDone = async (action: string): Promise<void> => {
      const helper = await until(`the ${action} helper pod`, 60_000, async () => (await c.kube.list<V1Pod>('v1', 'Pod', { namespace: storageNamespace, labelSelector: 'app=local-path-helper' })).items.find((pod) => pod.metadata?.name?.startsWith(`helper-${action}-`)));
      assert.ok((helper.metadata?.name ?? '').length <= 63, 'a valid hostname');
      assert.equal(helper.spec?.automountServiceAccountToken, false);
      assert.ok(helper.spec.volumes?.some((volume) => volume.hostPath?.path === '/var/lib/tracelab/local-path/'));
      // kwok runs no container: the helper's work is marked done, as the kubelet would.
      await c.cp.kubectl(['patch', 'pod', '-n', storageNamespace, helper.metadata?.name ?? '', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"phase":"Succeeded"}}']);
    };
    try {
      await c.cp.kubectl(['create', 'namespace', 'rbac-check']);
      await c.cp.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'rbac-check' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } },
            { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'user', namespace: 'rbac-check' }, spec: { containers: [{ name: 'c', image: 'registry.invalid/user:1' }], volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }] } },
          ],
        }),
      });
      await helperDone('create');
      const bound = await until('the claim Bound', 60_000, async () => {
        const claim = await c.kube.get<V1PersistentVolumeClaim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'data', namespace: 'rbac-check' });
        return claim?.status?.phase === 'Bound' ? claim : undefined;
      });
      assert.equal(bound.spec?.storageClassName, storageClassName);
      await c.cp.kubectl(['delete', 'namespace', 'rbac-check', '--wait=false']);
      await helperDone('delete');
      await until('the volume deleted', 60_000, async () => ((await c.cp.kubectl(['get', 'pv', '-o', 'name'])).trim() === '' ? true : undefined));
      assert.doesNotMatch(log, /forbidden/i, log);
    } finally {
      provisioner.kill();
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('refuses bad options in one line with exit 2, applying nothing', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    const before = await storageObjects(c.kube);
    const run = await tracelab(c.cp, ['up', 'storage', '--path', '/etc/volumes']);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--path '\/etc\/volumes' is or holds the system directory \/etc/);
    assert.deepEqual(await storageObjects(c.kube), before);
  });

  it('teardown leaves nothing of the layer: namespace, class and cluster-wide rights gone', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    const applied = await storageObjects(c.kube);
    assert.equal(applied.length, 12, 'the 11 objects and the ApplySet record');
    assert.ok(applied.includes('ConfigMap tracelab-layer-storage'), applied.join(', '));
    const run = await tracelab(c.cp, ['teardown', 'storage']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /storage: 11 deleted/);
    assert.deepEqual(await storageObjects(c.kube), []);
    assert.equal(await c.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: storageNamespace }), undefined);
  });
});
