/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ApiException, AppsV1Api, BatchV1Api, CoreV1Api, type V1DaemonSet, type V1Deployment, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { $ } from 'zx';
import { componentPath, isBuilt, requireComponents, waitFor } from '../../testenv/components.ts';
import { controlPlaneBinaries, startControlPlane, type ControlPlane } from '../../testenv/controlplane.ts';
import { isRunning, stopRecorded, type ProcessRecord } from '../../testenv/processes.ts';

const BINARIES = controlPlaneBinaries;
const NS = 'testenv';

const labels = { app: 'probe' };
const container = { name: 'server', image: 'registry.invalid/probe:1' };

describe('startControlPlane()', () => {
  let plane: ControlPlane | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let batch: BatchV1Api;
  let startupMs = 0;

  before(async () => {
    // Without the binaries each test skips (or fails under CI) through requireComponents.
    if (!BINARIES.every(isBuilt)) return;
    const started = Date.now();
    plane = await startControlPlane({ nodes: 2 });
    startupMs = Date.now() - started;
    const kc = plane.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    batch = kc.makeApiClient(BatchV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await waitFor(`ServiceAccount ${NS}/default`, async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: NS });
      return true;
    });
  });

  after(async () => {
    await plane?.stop();
  });

  it('comes up with Ready, labelled, untainted kwok nodes', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    t.diagnostic(`control plane ready in ${startupMs} ms`);
    const nodes = (await core.listNode()).items;
    assert.deepEqual(nodes.map((n) => n.metadata?.name).sort(), ['kwok-node-0', 'kwok-node-1']);
    for (const node of nodes) {
      const nodeLabels = node.metadata?.labels ?? {};
      assert.equal(nodeLabels.type, 'kwok');
      assert.equal(nodeLabels['kubernetes.io/hostname'], node.metadata?.name);
      assert.ok(node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    }
    const out = await plane.kubectl(['version', '-o', 'json']);
    const version = JSON.parse(out) as { serverVersion: { gitVersion: string } };
    assert.match(version.serverVersion.gitVersion, /^v1\.\d+\.\d+$/);
  });

  it('makes a Deployment of 2 replicas available and runs a DaemonSet on every node', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    const deployment: V1Deployment = {
      metadata: { name: 'probe', labels },
      spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container] } } },
    };
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment });
    const dsLabels = { app: 'probe-agent' };
    const daemonSet: V1DaemonSet = {
      metadata: { name: 'probe-agent' },
      spec: { selector: { matchLabels: dsLabels }, template: { metadata: { labels: dsLabels }, spec: { containers: [container] } } },
    };
    await apps.createNamespacedDaemonSet({ namespace: NS, body: daemonSet });

    let seen = '';
    await waitFor('Deployment probe to have 2 available replicas', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'probe', namespace: NS });
      seen = `${d.status?.availableReplicas ?? 0} available`;
      return d.status?.availableReplicas === 2 ? true : undefined;
    }, { deadlineMs: 60_000, status: () => seen });
    await waitFor('DaemonSet probe-agent ready on 2 nodes', async () => {
      const ds = await apps.readNamespacedDaemonSet({ name: 'probe-agent', namespace: NS });
      seen = `${ds.status?.numberReady ?? 0} ready`;
      return ds.status?.numberReady === 2 ? true : undefined;
    }, { deadlineMs: 60_000, status: () => seen });
  });

  it('completes a Job', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    const job: V1Job = {
      metadata: { name: 'probe-once' },
      spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [container] } } },
    };
    await batch.createNamespacedJob({ namespace: NS, body: job });
    let seen = '';
    await waitFor('Job probe-once to complete', async () => {
      const j = await batch.readNamespacedJob({ name: 'probe-once', namespace: NS });
      seen = JSON.stringify(j.status?.conditions?.map((c) => `${c.type}=${c.status}`) ?? []);
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') === true ? true : undefined;
    }, { deadlineMs: 60_000, status: () => seen });
  });

  it('rejects a privileged pod in a namespace enforcing the restricted Pod Security level', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    await core.createNamespace({
      body: { metadata: { name: 'restricted', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
    });
    const pod: V1Pod = {
      metadata: { name: 'privileged' },
      spec: { containers: [{ ...container, securityContext: { privileged: true } }] },
    };
    await assert.rejects(core.createNamespacedPod({ namespace: 'restricted', body: pod }), (err: unknown) => {
      assert.ok(err instanceof ApiException, String(err));
      assert.equal(err.code, 403);
      const status = JSON.parse(String(err.body)) as { message?: string };
      assert.match(status.message ?? '', /violates PodSecurity "restricted:latest": privileged/);
      return true;
    });
  });

  it('rejects unknown fields under strict field validation', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    await assert.rejects(
      plane.kubectl(['create', '--validate=strict', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'strict', namespace: NS }, data: {}, bogus: 1 }),
      }),
      /unknown field "bogus"/,
    );
  });

  it('completes namespace deletion', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    await core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    await core.createNamespacedConfigMap({ namespace: 'doomed', body: { metadata: { name: 'c' }, data: { a: 'b' } } });
    await core.deleteNamespace({ name: 'doomed' });
    await waitFor('namespace doomed to be gone', async () => {
      try {
        await core.readNamespace({ name: 'doomed' });
        return undefined;
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return true;
        throw err;
      }
    }, { deadlineMs: 60_000 });
  });

  it('restarts kube-apiserver on the same port against the same etcd', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    const before = plane.processes().find((p) => p.name === 'kube-apiserver');
    assert.ok(before);
    let started = Date.now();
    await plane.stopApiserver();
    t.diagnostic(`kube-apiserver stopped in ${Date.now() - started} ms`);
    assert.equal(isRunning(before), false);
    assert.equal(plane.processes().some((p) => p.name === 'kube-apiserver'), false);
    await assert.rejects(core.listNamespace());
    started = Date.now();
    await plane.startApiserver();
    t.diagnostic(`kube-apiserver ready again in ${Date.now() - started} ms`);
    const d = await apps.readNamespacedDeployment({ name: 'probe', namespace: NS });
    assert.equal(d.spec?.replicas, 2);
    const pids = JSON.parse(readFileSync(`${plane.dir}/pids.json`, 'utf8')) as { processes: ProcessRecord[] };
    assert.ok(pids.processes.some((p) => p.name === 'kube-apiserver' && p.pid !== before.pid));
  });

  it('stop() ends every process it started and removes its directory', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || plane === undefined) return;
    const processes = plane.processes();
    assert.deepEqual(processes.map((p) => p.name).sort(), ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);
    await plane.stop();
    assert.deepEqual(processes.filter(isRunning).map((p) => `${p.name} ${p.pid}`), []);
    assert.equal(existsSync(plane.dir), false);
    plane = undefined;
  });
});

describe('controlplane-cli', () => {
  it('up starts a control plane that outlives the CLI; down ends exactly its processes', async (t) => {
    if (requireComponents(t, BINARIES) === undefined) return;
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'tracelab-cli-test-')), 'plane');
    const cli = fileURLToPath(new URL('../../testenv/controlplane-cli.ts', import.meta.url));
    const sh = $({ quiet: true });
    let pids: ProcessRecord[] = [];
    t.after(async () => {
      for (const p of pids) await stopRecorded(p);
      rmSync(path.dirname(dir), { recursive: true, force: true });
    });

    const up = await sh`${process.execPath} ${cli} up --nodes 1 --dir ${dir}`;
    assert.match(up.stdout, new RegExp(`export KUBECONFIG=${dir}/kubeconfig`));
    pids = (JSON.parse(readFileSync(path.join(dir, 'pids.json'), 'utf8')) as { processes: ProcessRecord[] }).processes;
    assert.equal(pids.length, 5);
    assert.deepEqual(pids.filter((p) => !isRunning(p)).map((p) => p.name), [], 'every process still runs after up returned');
    const nodes = await sh`${componentPath('kubectl')} --kubeconfig ${path.join(dir, 'kubeconfig')} get nodes -o name`;
    assert.equal(nodes.stdout.trim(), 'node/kwok-node-0');

    const down = await sh`${process.execPath} ${cli} down --dir ${dir}`;
    assert.match(down.stdout, /stopped .*kube-apiserver/);
    assert.deepEqual(pids.filter(isRunning).map((p) => p.name), []);
    assert.equal(existsSync(dir), false);
  });
});
