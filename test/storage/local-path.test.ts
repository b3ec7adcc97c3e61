/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// Integration on a real node: `tracelab bootstrap --artifacts` installs the storage layer (the
// local-path provisioner built from the Go module, in the image `artifacts build` assembles) before
// the registry; the provisioner runs as a real pod, a claim binds on the node's disk and a non-root
// pod writes to it, deleting the claim removes the directory, and the registry on its claim keeps
// a pushed blob across the deletion of its pod. Then teardown of both layers leaves nothing.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject, V1Deployment, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { forwardToService, type Forward } from '../../core/kube/port-forward.ts';
import { registryNamespace, registryPort } from '../../registry/address.ts';
import { localPathProvisionerImage, storageClassName, storageNamespace } from '../../storage/render.ts';
import { storageDefaults } from '../../storage/options.ts';
import { isBuilt, requireComponents, type ComponentBinary } from '../../testenv/components.ts';
import { createLab, type Lab } from '../../testenv/nodes/lab.ts';
import type { TestNode } from '../../testenv/nodes/node.ts';
import { nodeHarnessUnavailable, requireNodeHarness } from '../../testenv/nodes/requirements.ts';
import { runToCompletion } from '../bootstrap/real-node.ts';
import { sharedArtifactsDir } from '../../testenv/artifacts.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const binaries = [
  ...['kubelet', 'kubeadm', 'kube-proxy', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'crictl', 'coredns', 'pause', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
  ...['jaeger', 'prometheus', 'node-exporter', 'metrics-server', 'registry', 'buildkitd', 'buildctl', 'rootlesskit', 'local-path-provisioner'],
] as ComponentBinary[];
const namespace = 'storage-check';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${String(timeoutMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('the storage layer on a real node: local-path volumes, and the registry on one', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  const forwards: Forward[] = [];
  const work = mkdtempSync(join(tmpdir(), 'tracelab-storage-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, binaries) !== undefined && node !== undefined;
  const tracelab = async (...args: string[]): Promise<{ status: number; stderr: string; ms: number }> => {
    const started = Date.now();
    const result = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, ...args], { nothrow: true, env: { CI: 'true' } });
    return { status: result.exitCode, stderr: result.stderr, ms: Date.now() - started };
  };
  const onNode = async (script: string): Promise<string> => (await (node as TestNode).executor.run(['sh', '-c', script])).stdout.trim();
  const apply = async (object: KubernetesObject): Promise<void> => {
    await (kube as KubeClient).request('POST', await (kube as KubeClient).path({ apiVersion: object.apiVersion ?? '', kind: object.kind ?? '', namespace: object.metadata?.namespace }), { body: object });
  };

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !binaries.every(isBuilt)) return;
    lab = await createLab({ purpose: 'test/storage/local-path.test.ts' });
    node = await lab.addNode('store1');
    // The Service range routed onto the lab segment, as on a host with a default route (see test/bootstrap/standalone.test.ts).
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    for (const opened of forwards) await opened.close();
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('bootstrap installs the storage layer before the registry, which then keeps its blobs on a claim of tracelab-local-path', async (t) => {
    if (!ready(t)) return;
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
    const run = await tracelab('bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--timeout', '5m');
    t.diagnostic(`bootstrap with the layers: ${String(run.ms)} ms`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^storage: \d+ created/m);
    assert.match(run.stderr, /^registry: \d+ created/m);
    assert.doesNotMatch(run.stderr, /no default StorageClass/);
    kube = createKube({ kubeconfig, context: 'tracelab' });
    const claim = await kube.get<V1PersistentVolumeClaim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'registry-data', namespace: registryNamespace });
    assert.equal(claim?.status?.phase, 'Bound');
    assert.equal(claim.spec?.storageClassName, storageClassName, 'the default class filled in');
  });

  it('runs the provisioner as a real, restricted pod: running, not restarted, its pod never given a root user', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const pods = await kube.list<V1Pod>('v1', 'Pod', { namespace: storageNamespace, labelSelector: 'app=local-path-provisioner' });
    assert.equal(pods.items.length, 1);
    const pod = pods.items[0];
    const status = pod?.status?.containerStatuses?.[0];
    assert.ok(status?.state?.running !== undefined, JSON.stringify(status));
    assert.equal(status.restartCount, 0);
    assert.equal(pod?.spec?.securityContext?.runAsUser, 65534);
    // The process in the container really runs as 65534: its status in the node's /proc.
    const uid = await onNode(`for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = local-path-prov ] && awk '/^Uid:/ {print $2}' $p/status; done; true`);
    assert.equal(uid, '65534');
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: storageNamespace, labelSelector: 'app=local-path-helper' })).items, [], 'helper pods deleted after their work');
  });

  it('binds a claim on the node\'s disk that a non-root pod writes to; deleting the claim removes its directory', async (t) => {
    if (!ready(t) || kube === undefined) return;
    await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
    const claim: V1PersistentVolumeClaim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } } };
    await apply(claim);
    const log = await runToCompletion(kube, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'writer', namespace },
      spec: {
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'writer',
            image: localPathProvisionerImage,
            imagePullPolicy: 'Never',
            command: ['sh', '-c', 'echo kept > /data/hello && echo "wrote $(cat /data/hello)"'],
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
          },
        ],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
      },
    });
    assert.equal(log.trim(), 'wrote kept');
    const bound = await kube.get<V1PersistentVolumeClaim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'data', namespace });
    const volumeName = bound?.spec?.volumeName ?? '';
    const volume = await kube.get<V1PersistentVolume>({ apiVersion: 'v1', kind: 'PersistentVolume', name: volumeName });
    const directory = volume?.spec?.hostPath?.path ?? '';
    assert.equal(directory, `${storageDefaults.path}/${volumeName}_${namespace}_data`);
    assert.equal(volume?.spec?.persistentVolumeReclaimPolicy, 'Delete');
    assert.deepEqual(volume.spec.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values, ['store1']);
    assert.equal(await onNode(`cat ${directory}/hello`), 'kept', "on the node's disk");
    assert.equal(await onNode(`stat -c %a ${storageDefaults.path}`), '700', 'the volumes\' parent closed to other users of the node');

    await kube.request('DELETE', `${await kube.path({ apiVersion: 'v1', kind: 'Pod', namespace })}/writer`);
    await kube.request('DELETE', `${await kube.path({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace })}/data`);
    await until(`PersistentVolume ${volumeName} deleted by the provisioner`, 120_000, async () => ((await (kube as KubeClient).get({ apiVersion: 'v1', kind: 'PersistentVolume', name: volumeName })) === undefined ? true : undefined));
    assert.equal(await onNode(`test -e ${directory} && echo present || echo gone`), 'gone');
  });

  it('the registry on its claim keeps a pushed blob when its pod is deleted and replaced', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const same = await tracelab('up', 'registry', '--storage', 'claim');
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stderr, /registry: 0 created, 0 changed/, 'bootstrap put it on the claim already');

    const blob = Buffer.from(`a layer the registry must keep ${String(Date.now())}\n`);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const open = async (): Promise<string> => {
      const opened = await forwardToService(kube as KubeClient, registryNamespace, 'registry', registryPort);
      forwards.push(opened);
      return `http://127.0.0.1:${String(opened.port)}`;
    };
    const first = await open();
    const started = await fetch(`${first}/v2/storage-check/blobs/uploads/`, { method: 'POST' });
    assert.equal(started.status, 202, await started.text());
    const location = new URL(started.headers.get('location') ?? '', first);
    location.searchParams.set('digest', digest);
    const put = await fetch(new URL(`${location.pathname}${location.search}`, first), { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201, await put.text());

    const podsBefore = await kube.list<V1Pod>('v1', 'Pod', { namespace: registryNamespace, labelSelector: 'app=registry' });
    const oldPod = podsBefore.items[0]?.metadata?.name ?? '';
    await kube.request('DELETE', `${await kube.path({ apiVersion: 'v1', kind: 'Pod', namespace: registryNamespace })}/${oldPod}`);
    await until('a new registry pod Ready', 180_000, async () => {
      const pods = await (kube as KubeClient).list<V1Pod>('v1', 'Pod', { namespace: registryNamespace, labelSelector: 'app=registry' });
      const fresh = pods.items.find((pod) => pod.metadata?.name !== oldPod && pod.metadata?.deletionTimestamp == null && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return fresh === undefined || pods.items.length !== 1 ? undefined : fresh;
    });
    const second = await open();
    const fetched = await fetch(`${second}/v2/storage-check/blobs/${digest}`);
    assert.equal(fetched.status, 200);
    assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), blob);
  });

  it('a second `up storage` changes nothing; teardown of registry then storage leaves no volume, directory or object behind', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const again = await tracelab('up', 'storage');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /storage: 0 created, 0 changed/);
    const registryVolume = (await kube.get<V1PersistentVolumeClaim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'registry-data', namespace: registryNamespace }))?.spec?.volumeName ?? '';
    // Teardown deletes the registry's claim; reclaimPolicy Delete removes its blobs from the node (README).
    const registry = await tracelab('--yes', 'teardown', 'registry');
    assert.equal(registry.status, 0, registry.stderr);
    await until('the registry\'s volume deleted by the provisioner', 120_000, async () => ((await (kube as KubeClient).get({ apiVersion: 'v1', kind: 'PersistentVolume', name: registryVolume })) === undefined ? true : undefined));
    const storage = await tracelab('--yes', 'teardown', 'storage');
    assert.equal(storage.status, 0, storage.stderr);
    assert.equal(await onNode(`ls -A ${storageDefaults.path}`), '', 'no volume directory left');
    assert.deepEqual((await kube.list<V1PersistentVolume>('v1', 'PersistentVolume')).items.map((pv) => pv.metadata?.name), []);
    assert.equal(await kube.get({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', name: storageClassName }), undefined);
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: storageNamespace }), undefined);
    assert.equal(await kube.get<V1Deployment>({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'tracelab-local-path-provisioner' }), undefined);
  });
});
