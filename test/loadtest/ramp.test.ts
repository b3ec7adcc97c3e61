// Integration on a real node: `tracelab loadtest ramp --runner node` on a lab tracelab bootstrapped
// from its artifacts, with the observability layer (metrics-server) and the demo built in the
// cluster — backend's HorizontalPodAutoscaler goes above its minimum on real CPU readings and
// comes back down, and the printed timeline shows both; then thresholds that fail (backend made to
// fail half its calls) make the command exit 9; and a k6 image that cannot be had fails in one line
// with everything it created deleted.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1ConfigMap, V1Deployment, V1Job, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { labRegistryHost } from '../../registry/address.ts';
import { isBuilt, requireComponents, type ComponentBinary } from '../../testenv/components.ts';
import { createLab, type Lab } from '../../testenv/nodes/lab.ts';
import type { TestNode } from '../../testenv/nodes/node.ts';
import { nodeHarnessUnavailable, requireNodeHarness } from '../../testenv/nodes/requirements.ts';
import { sharedArtifactsDir } from '../../testenv/artifacts.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(repo, 'cli/tracelab.ts');
const binaries = [
  ...['kubelet', 'kubeadm', 'kube-proxy', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'crictl', 'coredns', 'pause', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
  ...['jaeger', 'prometheus', 'node-exporter', 'metrics-server', 'registry', 'buildkitd', 'buildctl'],
] as ComponentBinary[];
const namespace = 'tracelab-demo';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${String(timeoutMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

describe('npm run loadtest on a real node: the autoscalers follow the load', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-loadtest-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');
  const sources = join(work, 'sources');

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, binaries) !== undefined && node !== undefined;
  /** The lab the first test made; without it the later tests are skipped, saying so (the first one failed). */
  const labUp = (t: TestContext): boolean => {
    if (!ready(t)) return false;
    if (kube === undefined) t.skip('the lab did not come up (see the first test)');
    return kube !== undefined;
  };
  /** The CLI on the node (bootstrap, deploy) as a person on it would run it. */
  const onNode = async (...args: string[]): Promise<{ status: number; stderr: string }> => {
    const result = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, ...args], { nothrow: true, env: { CI: 'true' } });
    return { status: result.exitCode, stderr: result.stderr };
  };
  /** The CLI from this machine (the load goes through a port-forward, as from a laptop). */
  const fromHere = (...args: string[]): Promise<{ status: number | null; stderr: string; ms: number }> => {
    const started = Date.now();
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [cli, '--kubeconfig', kubeconfig, '--context', 'tracelab', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (status) => {
        resolve({ status, stderr, ms: Date.now() - started });
      });
    });
  };
  const hpa = (name: string): Promise<V2HorizontalPodAutoscaler | undefined> =>
    (kube as KubeClient).get<V2HorizontalPodAutoscaler>({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name, namespace });

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !binaries.every(isBuilt)) return;
    cpSync(repo, sources, { recursive: true, filter: (path) => !/\/(node_modules|\.git|\.tracelab|bench|test|testenv)(\/|$)/.test(path.slice(repo.length - 1)) });
    lab = await createLab({ purpose: 'test/loadtest/ramp.test.ts' });
    node = await lab.addNode('load1');
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('bootstraps the lab from the artifacts with the observability layer, deploys the demo, and the autoscalers read CPU', async (t) => {
    if (!ready(t)) return;
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
    const boot = await onNode('bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--timeout', '4m');
    assert.equal(boot.status, 0, boot.stderr);
    const deploy = await onNode('deploy', 'demo', '--artifacts', artifacts, '--sources', sources, '--timeout', '8m');
    assert.equal(deploy.status, 0, deploy.stderr);
    kube = createKube({ kubeconfig, context: 'tracelab' });
    const backend = await until("backend's autoscaler reading CPU", 180_000, async () => {
      const live = await hpa('backend');
      return live?.status?.currentMetrics?.[0]?.resource?.current.averageUtilization === undefined ? undefined : live;
    });
    assert.equal(backend.spec.minReplicas, 2);
    assert.equal(backend.spec.behavior?.scaleDown?.stabilizationWindowSeconds, 60);
  });

  it('loadtest ramp --runner node: backend scales above its minimum on real CPU readings and back down; the timeline shows both; thresholds pass', async (t) => {
    if (!labUp(t) || kube === undefined) return;
    const run = await fromHere('loadtest', 'ramp', '--runner', 'node', '--sample-every', '5s');
    t.diagnostic(`loadtest ramp: ${String(run.ms)} ms\n${run.stderr}`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^node: sending from this machine through a port-forward to tracelab-demo\/frontend/m);
    assert.match(run.stderr, /^ {2}✓ error rate/m);
    assert.doesNotMatch(run.stderr, /^ {2}✗/m);
    // The table: a header with both Deployments, rows of `replicas[→desired] cpu%`.
    const table = run.stderr.slice(run.stderr.indexOf('timeline ('));
    const header = /^ {2}t +backend +frontend$/m.exec(table);
    assert.ok(header !== null, table);
    const rows = [...table.matchAll(/^ {2}(\d+:\d\d) +(\d+)(?:→\d+)? +(\d+%|\?) +(\d+)(?:→\d+)? +(\d+%|\?)$/gm)].map((m) => ({ at: m[1], backend: Number(m[2]), backendCpu: m[3] ?? '?', frontend: Number(m[4]) }));
    assert.ok(rows.length >= 20, `a sample every 5 s over the run: ${String(rows.length)} rows`);
    const peak = Math.max(...rows.map((row) => row.backend));
    assert.ok(peak > 2, `backend went above its minimum of 2 (peak ${String(peak)})`);
    assert.equal(rows.at(-1)?.backend, 2, 'and came back down to 2 by the end of the timeline');
    // The reading that made the autoscaler scale may first show in the same sample as the new count.
    const firstAbove = rows.findIndex((row) => row.backend > 2);
    assert.ok(
      rows.slice(0, firstAbove + 1).some((row) => row.backendCpu !== '?' && Number(row.backendCpu.slice(0, -1)) > 70),
      `CPU above the 70 % target by the time backend first scaled (at ${rows[firstAbove]?.at ?? '?'})`,
    );
    assert.match(run.stderr, /^ {2}replicas: backend 2–[3-5], ended at 2 \(minimum 2\)/m);
    assert.match(run.stderr, /load ended at \d+:\d\d/);
    assert.match(run.stderr, /http:\/\/localhost:3000\/d\/tracelab-autoscaling\?from=\d+&to=\d+/);
    assert.match(run.stderr, /http:\/\/localhost:16686\/search\?service=frontend&start=\d+&end=\d+/);
    // What the API says now agrees with the table's last row (the Deployment's replicas, which the
    // autoscaler's own status catches up with at its next sync).
    const backend = await kube.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: 'backend' });
    assert.equal(backend?.status?.replicas, 2);
    assert.equal((await hpa('backend'))?.status?.desiredReplicas, 2);
  });

  it('thresholds that fail make the command exit 9: backend made to fail half its calls', async (t) => {
    if (!labUp(t) || kube === undefined) return;
    const broken = await onNode('deploy', 'demo', '--artifacts', artifacts, '--sources', sources, '--backend-error-rate', '0.5', '--timeout', '4m');
    assert.equal(broken.status, 0, broken.stderr);
    const run = await fromHere('loadtest', 'smoke', '--runner', 'node', '--no-timeline');
    t.diagnostic(run.stderr);
    assert.equal(run.status, 9, run.stderr);
    assert.match(run.stderr, /^ {2}✗ error rate +≤ 1% +\d+(\.\d+)?% \(\d+\/\d+\)$/m);
    assert.match(run.stderr, /^✗ thresholds failed: error rate /m);
  });

  it('a k6 image the lab cannot pull: one line naming the pull failure, the Job, its pod, ConfigMap and NetworkPolicy deleted', async (t) => {
    if (!labUp(t) || kube === undefined) return;
    // From the lab registry (the nodes reach it through their hosts.toml: nothing leaves the machine); the image is not there.
    const run = await fromHere('loadtest', 'smoke', '--k6-image', `${labRegistryHost}/tracelab/k6:missing`, '--no-timeline');
    t.diagnostic(run.stderr);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^✗ the k6 pod cannot start: (ErrImagePull|ImagePullBackOff): .*--runner node$/m);
    assert.match(run.stderr, /^k6: Job tracelab-demo\/k6-smoke-[0-9a-f]{6}, its pod, ConfigMap and NetworkPolicy deleted$/m);
    assert.deepEqual((await kube.list<V1Job>('batch/v1', 'Job', { namespace })).items, []);
    assert.deepEqual((await kube.list<V1ConfigMap>('v1', 'ConfigMap', { namespace, labelSelector: 'app.kubernetes.io/name=k6' })).items, []);
  });
});
