// Integration on a real node: `tracelab ui` (a child process, as a person runs it) against a lab
// tracelab bootstrapped from the artifacts with the monitoring layer — the local ports answer from
// the real Jaeger and Prometheus (their query APIs: the binaries built here carry no web UI); deleting the Jaeger pod makes `ui` switch to its replacement
// (one line), the local port answering again; Ctrl-C ends it with exit 0 and every port closed.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { isBuilt, requireComponents, type ComponentBinary } from '../../testenv/components.ts';
import { createLab, type Lab } from '../../testenv/nodes/lab.ts';
import type { TestNode } from '../../testenv/nodes/node.ts';
import { nodeHarnessUnavailable, requireNodeHarness } from '../../testenv/nodes/requirements.ts';
import { sharedArtifactsDir } from '../../testenv/artifacts.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const binaries = [
  ...['kubelet', 'kubeadm', 'kube-proxy', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'crictl', 'coredns', 'pause', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
  ...['jaeger', 'prometheus', 'node-exporter', 'metrics-server', 'registry', 'buildkitd', 'buildctl'],
] as ComponentBinary[];
const jaegerPort = 16686 + 30000;
const prometheusPort = 9090 + 30000;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${String(timeoutMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Whether something listens on 127.0.0.1:port, found by trying to listen there. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(true);
      else reject(err);
    });
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolve(false);
      });
    });
  });
}

/** A GET through the forward; undefined when the connection fails (the pod is being replaced). */
async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

describe('tracelab ui on a real node: forwards to the real Jaeger and Prometheus, follows a replaced pod, ends on Ctrl-C', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  let ui: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  let exit: Promise<number | null> | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-ui-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, binaries) !== undefined && node !== undefined;
  const jaegerPods = async (): Promise<V1Pod[]> => (await (kube as KubeClient).list<V1Pod>('v1', 'Pod', { namespace: 'jaeger', labelSelector: 'app=jaeger' })).items;

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !binaries.every(isBuilt)) return;
    lab = await createLab({ purpose: 'test/lab/ui.test.ts' });
    node = await lab.addNode('ui1');
    // The Service range routed onto the lab segment, as on a host with a default route (see test/bootstrap/standalone.test.ts).
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    if (ui?.exitCode === null) {
      ui.kill('SIGKILL');
      await exit;
    }
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('bootstraps the lab from the artifacts, the monitoring layer on it', async (t) => {
    if (!ready(t)) return;
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
    const run = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, 'bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--timeout', '4m'], { nothrow: true, env: { CI: 'true' } });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.match(run.stderr, /^monitoring: \d+ created/m);
    kube = createKube({ kubeconfig, context: 'tracelab' });
  });

  it('forwards to the real Jaeger and Prometheus: the table once they listen, the local ports answer from the real query APIs', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const started = Date.now();
    const child = spawn(process.execPath, [cli, '--kubeconfig', kubeconfig, 'ui', '--port-offset', '30000'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    ui = child;
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    exit = new Promise((resolve) => child.on('close', resolve));
    await until('the table of URLs', 60_000, () => Promise.resolve(/^Kiali .*$/m.test(stdout) ? true : undefined));
    t.diagnostic(`ui printed its table ${String(Date.now() - started)} ms after it started`);
    for (const line of stdout.trimEnd().split('\n')) t.diagnostic(`stdout: ${line}`);
    assert.match(stdout, new RegExp(`^Jaeger +http://127\\.0\\.0\\.1:${String(jaegerPort)}$`, 'm'));
    assert.match(stdout, new RegExp(`^Prometheus +http://127\\.0\\.0\\.1:${String(prometheusPort)}$`, 'm'));
    // Grafana's image is never in the artifacts (AGPL), so bootstrap left it out.
    assert.match(stdout, /^Grafana +not installed +install it with tracelab deploy monitoring --grafana true$/m);
    assert.match(stdout, /^Headlamp +not installed +install it with tracelab ui --headlamp$/m);

    const services = await get(`http://127.0.0.1:${String(jaegerPort)}/api/services`);
    assert.equal(services?.status, 200, services?.body);
    // Jaeger's query API answering (no trace has arrived yet, so no service: data is null).
    assert.deepEqual(Object.keys(JSON.parse(services.body) as object).sort(), ['data', 'errors', 'limit', 'offset', 'total'], services.body);
    const build = await get(`http://127.0.0.1:${String(prometheusPort)}/api/v1/status/buildinfo`);
    assert.equal(build?.status, 200, build?.body);
    assert.match(build.body, /^\{"status":"success","data":\{"version":/);
    const readyz = await get(`http://127.0.0.1:${String(prometheusPort)}/-/ready`);
    assert.equal(readyz?.status, 200);
  });

  it('deleting the Jaeger pod: ui switches to its replacement (one line) and the local port answers again', async (t) => {
    if (!ready(t) || kube === undefined || ui === undefined) return;
    const [old] = await jaegerPods();
    const oldName = old?.metadata?.name ?? '';
    assert.notEqual(oldName, '');
    const deleted = Date.now();
    await kube.request('DELETE', `/api/v1/namespaces/jaeger/pods/${oldName}`);
    // The first connection after the deletion may reach the old pod while it stops; the port answers from the replacement within the deadline.
    const answered = await until('Jaeger answering through the same local port from the replacement pod', 180_000, async () => {
      const replacement = (await jaegerPods()).find((pod) => pod.metadata?.name !== oldName && pod.metadata?.deletionTimestamp === undefined);
      if (replacement === undefined) return undefined;
      const reply = await get(`http://127.0.0.1:${String(jaegerPort)}/api/services`);
      return reply?.status === 200 && stderr.includes('↻ Jaeger') ? replacement.metadata?.name : undefined;
    });
    t.diagnostic(`the local port answered from the replacement ${String(Date.now() - deleted)} ms after the pod was deleted`);
    const switches = stderr.split('\n').filter((line) => line.startsWith('↻ '));
    for (const line of stderr.trimEnd().split('\n')) t.diagnostic(`stderr: ${line}`);
    assert.deepEqual(switches, [`↻ Jaeger: now forwarding to pod jaeger/${answered} (replaces jaeger/${oldName})`]);
    // Prometheus was never disturbed.
    assert.equal((await get(`http://127.0.0.1:${String(prometheusPort)}/-/ready`))?.status, 200);
  });

  it('Ctrl-C ends ui with exit 0 and every local port closed', async (t) => {
    if (!ready(t) || ui === undefined || exit === undefined) return;
    assert.deepEqual([await listening(jaegerPort), await listening(prometheusPort)], [true, true]);
    ui.kill('SIGINT');
    assert.equal(await exit, 0, stderr);
    assert.match(stderr, /^closed 2 port-forwards$/m);
    assert.deepEqual([await listening(jaegerPort), await listening(prometheusPort)], [false, false]);
    assert.doesNotMatch(stdout, /password/i);
  });
});
