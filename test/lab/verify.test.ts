// Integration on a real node: `tracelab verify` and `tracelab status` on a lab tracelab
// bootstrapped from its artifacts (monitoring and registry layers) with the demo deployed by
// `deploy:demo --artifacts` (images built in the cluster). verify passes with real requests, real
// traces in the in-cluster Jaeger, real scrapes, real metrics-server readings, and the mesh rows
// "not installed"; the mesh's two probe pods, run without the mesh, report backend answering both;
// then backend scaled to 0 and Jaeger scaled to 0 each fail it naming that piece;
// last, the mesh layer installed, whose sidecars cannot run here (no Envoy), fails it naming that.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { readinessOf } from '../../core/kube/readiness.ts';
import type { CheckResult } from '../../lab/checks/check.ts';
import { probeLabel, runMeshProbes } from '../../lab/checks/mesh-probes.ts';
import { serviceProblem } from '../../lab/services.ts';
import type { LabStatus } from '../../lab/status.ts';
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
  ...['pilot-discovery', 'istioctl', 'install-cni', 'cni/istio-cni'],
] as ComponentBinary[];
const namespace = 'tracelab-demo';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('tracelab verify and status on a real node with the demo deployed', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-verify-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');
  const sources = join(work, 'sources');

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, binaries) !== undefined && node !== undefined;
  const tracelab = async (...args: string[]): Promise<{ status: number; stdout: string; stderr: string; ms: number }> => {
    const started = Date.now();
    const result = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, ...args], { nothrow: true, env: { CI: 'true' } });
    return { status: result.exitCode, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - started };
  };
  const verify = async (t: TestContext, label: string): Promise<{ status: number; checks: CheckResult[] }> => {
    const run = await tracelab('verify', '--json', '--requests', '5', '--timeout', '3m');
    t.diagnostic(`verify (${label}): ${run.ms} ms`);
    const parsed = JSON.parse(run.stdout) as { checks: CheckResult[] };
    for (const check of parsed.checks) t.diagnostic(`${check.status} ${check.id}: ${check.detail}`);
    return { status: run.status, checks: parsed.checks };
  };
  const scale = async (ns: string, name: string, replicas: number): Promise<void> => {
    await (kube as KubeClient).request('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/${name}/scale`, {
      body: { spec: { replicas } },
      contentType: 'application/merge-patch+json',
    });
  };
  const serving = (ns: string, name: string, service: string): Promise<true> =>
    until(`Deployment ${ns}/${name} available again`, 180_000, async () => {
      const live = await (kube as KubeClient).get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace: ns });
      return readinessOf(live).ready && (live?.status?.availableReplicas ?? 0) > 0 && (await serviceProblem(kube as KubeClient, { namespace: ns, service })) === undefined ? true : undefined;
    });
  // Every pod gone, not only unready: kube-proxy still sends to terminating pods when no other is there.
  const drained = (ns: string, service: string, app: string): Promise<string> =>
    until(`Service ${ns}/${service} without endpoints and pods`, 180_000, async () => {
      const pods = await (kube as KubeClient).list('v1', 'Pod', { namespace: ns, labelSelector: `app=${app}` });
      return pods.items.length === 0 ? serviceProblem(kube as KubeClient, { namespace: ns, service }) : undefined;
    });

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !binaries.every(isBuilt)) return;
    cpSync(repo, sources, { recursive: true, filter: (path) => !/\/(node_modules|\.git|\.tracelab|bench|test|testenv)(\/|$)/.test(path.slice(repo.length - 1)) });
    lab = await createLab({ purpose: 'test/lab/verify.test.ts' });
    node = await lab.addNode('verify1');
    // The Service range routed onto the lab segment, as on a host with a default route (see test/bootstrap/standalone.test.ts).
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('bootstraps the lab from the artifacts and deploys the demo built in the cluster', async (t) => {
    if (!ready(t)) return;
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
    const boot = await tracelab('bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--timeout', '4m');
    assert.equal(boot.status, 0, boot.stderr);
    kube = createKube({ kubeconfig, context: 'tracelab' });
    const deploy = await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources, '--timeout', '8m');
    t.diagnostic(`bootstrap ${boot.ms} ms, deploy:demo ${deploy.ms} ms`);
    assert.equal(deploy.status, 0, deploy.stderr);
  });

  it('status shows the node and the layers bootstrap and deploy:demo installed', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const run = await tracelab('status', '--json');
    assert.equal(run.status, 0, run.stderr);
    const status = JSON.parse(run.stdout) as LabStatus;
    assert.deepEqual(status.nodes.map((n) => [n.name, n.ready, n.roles.includes('control-plane')]), [['verify1', true, true]]);
    assert.match(status.nodes[0]?.kubeletVersion ?? '', /^v1\.\d+\.\d+/);
    for (const name of ['demo', 'monitoring', 'registry']) {
      const layer = status.layers.find((l) => l.name === name);
      assert.equal(layer?.state, 'installed', `${name}: ${JSON.stringify(layer)}`);
    }
    assert.ok(status.uis.some((ui) => ui.service === 'jaeger/jaeger-query:16686' && ui.installed));
    assert.ok(status.uis.some((ui) => ui.service === 'monitoring/prometheus:9090' && ui.installed));
    const text = await tracelab('status');
    t.diagnostic(text.stdout);
  });

  it('verify passes: requests through frontend, each one trace frontend → backend in Jaeger, RED metrics of both, the autoscalers reading CPU; the mesh rows not installed', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const { status, checks } = await verify(t, 'whole lab');
    assert.equal(status, 0);
    assert.deepEqual(
      checks.map((c) => [c.id, c.status]),
      [
        ['requests', 'pass'],
        ['traces', 'pass'],
        ['metrics', 'pass'],
        ['autoscalers', 'pass'],
        ['mesh-spans', 'not-installed'],
        ['mesh-metrics', 'not-installed'],
        ['mesh-plaintext', 'not-installed'],
        ['mesh-caller', 'not-installed'],
      ],
    );
    assert.match(checks[1]?.detail ?? '', /^5 of 5 found, frontend → backend in one parent chain/);
    const table = await tracelab('verify', '--requests', '1');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^verify: 4 passed, 0 failed, 4 not installed$/m);
  });

  it("the mesh's policy probes, run on this lab without the mesh: backend answers both, so neither passes; the probe pods and their NetworkPolicies are gone afterwards, the demo's own kept", async (t) => {
    if (!ready(t) || kube === undefined) return;
    const client = kube;
    const policies = async (): Promise<string[]> => (await client.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace })).items.map((p) => p.metadata?.name ?? '').sort();
    const before = await policies();
    const started = Date.now();
    const results = await runMeshProbes(kube, namespace, { timeoutMs: 120_000 });
    t.diagnostic(`both probes: ${String(Date.now() - started)} ms`);
    for (const result of results) t.diagnostic(`${result.status} ${result.id}: ${result.detail}`);
    // Pod Security `restricted` (enforced on the namespace) admitted both pods, or they would have no answer to judge.
    assert.deepEqual(
      results.map((r) => [r.id, r.status]),
      [
        ['mesh-plaintext', 'fail'],
        ['mesh-caller', 'fail'],
      ],
    );
    assert.match(results[0]?.detail ?? '', /^backend answered a plaintext call from outside the mesh with HTTP 200: mutual TLS is not enforced/);
    assert.match(results[1]?.detail ?? '', /^backend answered a caller with the namespace's default ServiceAccount with HTTP 200/);
    assert.deepEqual((await kube.list('v1', 'Pod', { namespace, labelSelector: probeLabel })).items.map((p) => p.metadata?.name), [], 'no probe pod left');
    assert.deepEqual(await policies(), before, "the probes' NetworkPolicies deleted, the demo's untouched");
  });

  it('backend scaled to 0: verify fails naming backend without ready endpoints, status shows the demo degraded', async (t) => {
    if (!ready(t) || kube === undefined) return;
    await scale(namespace, 'backend', 0);
    try {
      await drained(namespace, 'backend', 'backend');
      const { status, checks } = await verify(t, 'backend at 0');
      assert.equal(status, 9);
      const requests = checks.find((c) => c.id === 'requests');
      assert.equal(requests?.status, 'fail');
      assert.match(requests.detail, /frontend answered 50\d: backend .* — Service tracelab-demo\/backend has no ready endpoints: Deployment tracelab-demo\/backend is scaled to 0 replicas \(no pods\)$/);
      // An autoscaler whose target is at 0 is off: said at once, not waited for.
      const autoscalers = checks.find((c) => c.id === 'autoscalers');
      assert.equal(autoscalers?.status, 'fail');
      assert.match(autoscalers.detail, /^HorizontalPodAutoscaler tracelab-demo\/backend reports no CPU: ScalingActive=False ScalingDisabled: scaling is disabled since the replica count of the target is zero(;|$)/);
      const run = await tracelab('status', '--json');
      const demo = (JSON.parse(run.stdout) as LabStatus).layers.find((l) => l.name === 'demo');
      assert.equal(demo?.state, 'degraded');
      assert.deepEqual(demo.reasons, ['Deployment tracelab-demo/backend: scaled to 0 replicas']);
    } finally {
      await scale(namespace, 'backend', 2);
      await serving(namespace, 'backend', 'backend');
    }
  });

  it('Jaeger scaled to 0: verify fails naming Jaeger without pods; the requests themselves still pass', async (t) => {
    if (!ready(t) || kube === undefined) return;
    await scale('jaeger', 'jaeger', 0);
    try {
      await drained('jaeger', 'jaeger-query', 'jaeger');
      const { status, checks } = await verify(t, 'Jaeger at 0');
      assert.equal(status, 9);
      assert.equal(checks.find((c) => c.id === 'requests')?.status, 'pass');
      const traces = checks.find((c) => c.id === 'traces');
      assert.equal(traces?.status, 'fail');
      assert.equal(traces.detail, 'Service jaeger/jaeger-query has no ready endpoints: Deployment jaeger/jaeger is scaled to 0 replicas (no pods)');
    } finally {
      await scale('jaeger', 'jaeger', 1);
      await serving('jaeger', 'jaeger', 'jaeger-query');
    }
  });

  it('with the mesh installed but its proxies unable to run (no Envoy here), verify fails naming that cause', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const up = await tracelab('up', 'mesh', '--artifacts', artifacts, '--no-wait', '--timeout', '3m');
    assert.equal(up.status, 0, up.stderr);
    const client = kube;
    await until('istiod available', 180_000, async () => (readinessOf(await client.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', namespace: 'istio-system' })).ready ? true : undefined));
    // deploy:demo again rolls the demo's pods into the mesh (nothing to build); their sidecar's Envoy image cannot be had here.
    const redeploy = await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources, '--no-wait', '--timeout', '3m');
    assert.equal(redeploy.status, 0, redeploy.stderr);
    assert.match(redeploy.stderr, /^demo: 0 created, 2 changed, \d+ unchanged, 0 pruned/m);
    // The pull of the proxy's image fails at once here (no route out); verify is run once the kubelet has said so.
    await until("an injected demo pod whose proxy image cannot be pulled", 120_000, async () => {
      const pods = (await client.list<V1Pod>('v1', 'Pod', { namespace })).items;
      const pullFailed = (pod: V1Pod): boolean =>
        [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].some((s) => /^(ErrImagePull|ImagePullBackOff)$/.test(s.state?.waiting?.reason ?? '') && s.image.includes('proxyv2'));
      return pods.some(pullFailed) ? true : undefined;
    });
    const { status, checks } = await verify(t, 'mesh without Envoy');
    assert.equal(status, 9);
    const proxies = checks.find((c) => c.id === 'mesh-proxies');
    assert.equal(proxies?.status, 'fail');
    // The proxy's image (Envoy) cannot be pulled here: the first container of it that the pod runs says so.
    assert.match(proxies.detail, /pods: pod tracelab-demo\/\S+ istio-(validation|proxy) (ErrImagePull|ImagePullBackOff): .*docker\.io\/istio\/proxyv2:1\.31\.0/, 'the proxy that cannot start comes first');
    for (const id of ['mesh-spans', 'mesh-metrics', 'mesh-plaintext', 'mesh-caller']) {
      const check = checks.find((c) => c.id === id);
      assert.equal(check?.status, 'fail', id);
      assert.match(check.detail, /the mesh proxies do not run/);
    }
  });
});
