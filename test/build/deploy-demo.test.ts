// Integration on a real node: `npm run deploy:demo` end to end on a lab tracelab bootstrapped —
// the registry layer, both images built in the cluster by BuildKit from this repository's
// Dockerfile with no network at all (the artifacts' Node base image, the context's npm cache),
// pushed, pulled by the node's containerd through its hosts.toml, pods Ready with their real
// probes; then what a person checks: no-change re-run, discovery, one trace in Jaeger, RED metrics
// in Prometheus, the autoscalers' CPU, a one-line change, and builds that fail.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Deployment, V1Pod, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { forwardToService, type Forward } from '../../core/kube/port-forward.ts';
import { buildNamespace, inClusterRegistryHost } from '../../registry/address.ts';
import { buildkitImage } from '../../build/builders/buildkit.ts';
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
    assert.ok(Date.now() < deadline, `${what} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe('npm run deploy:demo on a real node: in-cluster builds into the lab registry', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  const forwards: Forward[] = [];
  const work = mkdtempSync(join(tmpdir(), 'tracelab-deploy-demo-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');
  // A copy of the sources the test may change, as a person changing the demo would.
  const sources = join(work, 'sources');

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, binaries) !== undefined && node !== undefined;
  const tracelab = async (...args: string[]): Promise<{ status: number; stderr: string; ms: number }> => {
    const started = Date.now();
    const result = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, ...args], { nothrow: true, env: { CI: 'true' } });
    return { status: result.exitCode, stderr: result.stderr, ms: Date.now() - started };
  };
  const deployments = async (): Promise<Record<string, { image: string; generation: number }>> => {
    const list = await (kube as KubeClient).list<V1Deployment>('apps/v1', 'Deployment', { namespace });
    return Object.fromEntries(list.items.map((d) => [d.metadata?.name ?? '', { image: d.spec?.template.spec?.containers[0]?.image ?? '', generation: d.metadata?.generation ?? 0 }]));
  };
  // The pods serving now (a replaced one may still be stopping).
  const podNames = async (): Promise<string[]> =>
    (await (kube as KubeClient).list<V1Pod>('v1', 'Pod', { namespace })).items
      .filter((p) => p.metadata?.deletionTimestamp === undefined)
      .map((p) => p.metadata?.name ?? '')
      .sort();
  const forward = async (ns: string, service: string, port: number): Promise<string> => {
    const opened = await forwardToService(kube as KubeClient, ns, service, port);
    forwards.push(opened);
    return `http://127.0.0.1:${String(opened.port)}`;
  };

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !binaries.every(isBuilt)) return;
    cpSync(repo, sources, { recursive: true, filter: (path) => !/\/(node_modules|\.git|\.tracelab|bench|test|testenv)(\/|$)/.test(path.slice(repo.length - 1)) });
    lab = await createLab({ purpose: 'test/build/deploy-demo.test.ts' });
    node = await lab.addNode('build1');
    // The Service range routed onto the lab segment, as on a host with a default route (see test/bootstrap/standalone.test.ts).
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    for (const opened of forwards) await opened.close();
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('bootstraps the lab from the artifacts, the observability layer on it', async (t) => {
    if (!ready(t)) return;
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
    const run = await tracelab('bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--timeout', '4m');
    assert.equal(run.status, 0, run.stderr);
    // The lab registry is one of the layers bootstrap installs.
    assert.match(run.stderr, /^registry: \d+ created/m);
    kube = createKube({ kubeconfig, context: 'tracelab' });
  });

  it('deploy:demo builds both images in the cluster with no network, pushes them, and the node pulls them by digest: pods Ready with their real probes', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const run = await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources, '--timeout', '8m');
    t.diagnostic(`first deploy:demo (registry, base image push, two cold builds, rollout): ${String(run.ms)} ms`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /registry: in place, kept as it is/);
    assert.match(run.stderr, /✓ Push the Node base image to the lab registry/);
    assert.match(run.stderr, /^ {2}frontend: built sha256:[0-9a-f]{12}/m);
    assert.match(run.stderr, /^ {2}backend: built sha256:[0-9a-f]{12}/m);
    assert.match(run.stderr, /^ {2}backend: \[build +\d+\/\d+\] RUN /m, 'a progress line per Dockerfile step');
    const live = await deployments();
    for (const service of ['frontend', 'backend']) assert.match(live[service]?.image ?? '', new RegExp(`^tracelab-registry:5000/tracelab/${service}@sha256:[0-9a-f]{64}$`));
    const pods = await kube.list<V1Pod>('v1', 'Pod', { namespace });
    assert.ok(pods.items.length >= 4);
    for (const pod of pods.items) assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True', `${pod.metadata?.name ?? ''} Ready`);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: 'tracelab-build' })).items, [], 'build pods cleaned up');
  });

  it('a second run builds nothing and changes nothing', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const before = await deployments();
    const pods = await podNames();
    const run = await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources);
    t.diagnostic(`unchanged deploy:demo: ${String(run.ms)} ms`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /frontend: sources unchanged/);
    assert.match(run.stderr, /backend: sources unchanged/);
    assert.match(run.stderr, /demo: 0 created, 0 changed/);
    assert.deepEqual(await deployments(), before);
    assert.deepEqual(await podNames(), pods);
  });

  it('frontend finds backend both ways: cluster DNS and the Service variables agree', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const frontend = await forward(namespace, 'frontend', 8080);
    const report = (await (await fetch(`${frontend}/api/discovery`)).json()) as { dns: { addresses?: string[] }; serviceEnv: { BACKEND_SERVICE_HOST: string | null }; agree: boolean | null };
    assert.ok(report.serviceEnv.BACKEND_SERVICE_HOST !== null, JSON.stringify(report));
    assert.deepEqual(report.dns.addresses, [report.serviceEnv.BACKEND_SERVICE_HOST]);
    assert.equal(report.agree, true);
  });

  it('one request through frontend is one trace with both services in Jaeger; Prometheus scrapes both services; the autoscalers read CPU', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const frontend = await forward(namespace, 'frontend', 8080);
    const answer = (await (await fetch(`${frontend}/api/hello`)).json()) as { traceId?: string; backend?: unknown };
    assert.match(answer.traceId ?? '', /^[0-9a-f]{32}$/, JSON.stringify(answer));
    const jaeger = await forward('jaeger', 'jaeger-query', 16686);
    const trace = await until('the trace in Jaeger', 60_000, async () => {
      const found = (await (await fetch(`${jaeger}/api/traces/${answer.traceId ?? ''}`)).json()) as { data?: { spans: { spanID: string; references?: { spanID: string }[]; processID: string }[]; processes: Record<string, { serviceName: string }> }[] };
      const data = found.data?.[0];
      const services = new Set(Object.values(data?.processes ?? {}).map((p) => p.serviceName));
      return services.has('frontend') && services.has('backend') ? data : undefined;
    });
    const ids = new Set(trace.spans.map((span) => span.spanID));
    const roots = trace.spans.filter((span) => (span.references ?? []).every((ref) => !ids.has(ref.spanID)));
    assert.equal(roots.length, 1, 'one parent chain');

    for (let i = 0; i < 20; i++) await fetch(`${frontend}/api/hello`);
    const prometheus = await forward('monitoring', 'prometheus', 9090);
    const apps = await until('both services in Prometheus', 90_000, async () => {
      const query = encodeURIComponent(`count by (app) (tracelab_http_request_duration_seconds_count{namespace="${namespace}"})`);
      const result = (await (await fetch(`${prometheus}/api/v1/query?query=${query}`)).json()) as { data: { result: { metric: { app?: string } }[] } };
      const found = result.data.result.map((r) => r.metric.app ?? '').sort();
      return found.length === 2 ? found : undefined;
    });
    assert.deepEqual(apps, ['backend', 'frontend']);
    for (const service of ['frontend', 'backend']) {
      const utilization = await until(`${service}'s autoscaler reading CPU`, 120_000, async () => {
        const hpa = await (kube as KubeClient).get<V2HorizontalPodAutoscaler>({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: service, namespace });
        return hpa?.status?.currentMetrics?.[0]?.resource?.current.averageUtilization ?? undefined;
      });
      assert.ok(utilization >= 0);
    }
  });

  it('a one-line change to backend rebuilds and rolls out backend alone', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const before = await deployments();
    const frontendPods = (await podNames()).filter((name) => name.startsWith('frontend-'));
    // What a killed tracelab leaves: a build pod ended by its deadline, owning its push credentials.
    const leftover = await kube.request<V1Pod>('POST', await kube.path({ apiVersion: 'v1', kind: 'Pod', namespace: buildNamespace }), {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'build-left-behind', labels: { 'app.kubernetes.io/managed-by': 'tracelab', 'tracelab.dev/build': 'backend' } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'build', image: buildkitImage, command: ['sh', '-c', 'exit 1'] }] },
      },
    });
    const owner = { apiVersion: 'v1', kind: 'Pod', name: 'build-left-behind', uid: leftover.metadata?.uid ?? '' };
    await kube.request('POST', await kube.path({ apiVersion: 'v1', kind: 'Secret', namespace: buildNamespace }), { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'build-left-behind', ownerReferences: [owner] }, stringData: { a: 'b' } } });
    for (let i = 0; i < 60 && (await kube.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: buildNamespace, name: 'build-left-behind' }))?.status?.phase !== 'Failed'; i++) await sleep(1000);
    appendFileSync(join(sources, 'services/backend/src/server.ts'), '// one line changed\n');
    const run = await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources, '--timeout', '6m');
    t.diagnostic(`one-line change: ${String(run.ms)} ms`);
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'Pod', namespace: buildNamespace, name: 'build-left-behind' }), undefined, 'a finished build pod left behind is deleted by the next build');
    for (let i = 0; i < 30 && (await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: buildNamespace, name: 'build-left-behind' })) !== undefined; i++) await sleep(1000);
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: buildNamespace, name: 'build-left-behind' }), undefined, 'and the Secret it owned with it');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /frontend: sources unchanged/);
    assert.match(run.stderr, /backend: built sha256:/);
    assert.match(run.stderr, /^~ Deployment tracelab-demo\/backend: spec\.template\.spec\.containers\[server\]\.image /m);
    assert.doesNotMatch(run.stderr, /^~ Deployment tracelab-demo\/frontend/m);
    const afterwards = await deployments();
    assert.deepEqual(afterwards.frontend, before.frontend);
    assert.notEqual(afterwards.backend?.image, before.backend?.image);
    assert.deepEqual((await podNames()).filter((name) => name.startsWith('frontend-')), frontendPods);
  });

  it('--dry-run with changed sources says what it would build and changes nothing', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const before = await deployments();
    const pods = await podNames();
    appendFileSync(join(sources, 'services/frontend/src/server.ts'), '// a change the dry run sees\n');
    const run = await tracelab('--dry-run', 'deploy', 'demo', '--artifacts', artifacts, '--sources', sources);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^ {2}frontend: would build tracelab\/frontend:src-[0-9a-f]+ with buildkit \(dry run: nothing built\)$/m);
    assert.match(run.stderr, /^ {2}backend: sources unchanged/m);
    assert.deepEqual(await deployments(), before);
    assert.deepEqual(await podNames(), pods);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: 'tracelab-build' })).items, [], 'no build pod');
  });

  it('a broken Dockerfile step: exit 8 naming the step with its log, and the running demo untouched', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const before = await deployments();
    const pods = await podNames();
    const dockerfile = join(sources, 'Dockerfile');
    const original = readFileSync(dockerfile, 'utf8');
    writeFileSync(dockerfile, original.replace('WORKDIR /app\n', 'WORKDIR /app\nRUN echo "the step that breaks" && exit 3\n'));
    try {
      const run = await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources);
      assert.equal(run.status, 8, run.stderr);
      assert.match(run.stderr, /the (frontend|backend) image did not build at \[build +\d+\/\d+\] RUN echo "the step that breaks" && exit 3: process .* exit code: 3 — the running demo was left as it was/);
      assert.match(run.stderr, /│ the step that breaks/);
    } finally {
      writeFileSync(dockerfile, original);
    }
    assert.deepEqual(await deployments(), before);
    assert.deepEqual(await podNames(), pods);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: 'tracelab-build' })).items, [], 'build pods cleaned up');
  });

  it('a base image the registry does not have, or a registry that cannot be reached: one clear error each, the demo untouched', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const before = await deployments();
    const missing = await tracelab('deploy', 'demo', '--sources', sources, '--node-image', `${inClusterRegistryHost}/tracelab/no-such-base:24`);
    assert.equal(missing.status, 8, missing.stderr);
    assert.match(missing.stderr, /the (frontend|backend) image did not build at \[internal\] load metadata for .*no-such-base:24: .*not found/);
    const unreachable = await tracelab('deploy', 'demo', '--sources', sources, '--node-image', 'registry.unreachable.invalid:5000/node:24');
    assert.equal(unreachable.status, 8, unreachable.stderr);
    assert.match(unreachable.stderr, /the (frontend|backend) image did not build at \[internal\] load metadata for registry\.unreachable\.invalid:5000\/node:24: .*(no such host|lookup)/);
    assert.deepEqual(await deployments(), before);
  });
});
