// `tracelab status` and `tracelab verify` on the local control plane (real etcd, kube-apiserver,
// controllers — the HPA and EndpointSlice controllers included — and kwok nodes whose pods become
// Ready without running anything): layers missing, installed and degraded with the reason; an
// unreachable cluster in one line; verify's failure reasons taken from the cluster's own state.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { LabStatus } from '../../lab/status.ts';
import type { CheckResult } from '../../lab/checks/check.ts';
import { freePort, isBuilt, requireComponents } from '../../testenv/components.ts';
import { controlPlaneBinaries, startControlPlane, type ControlPlane } from '../../testenv/controlplane.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const images = 'frontend=registry.invalid/tracelab/frontend:v1,backend=registry.invalid/tracelab/backend:v1';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function tracelab(kubeconfig: string, ...args: string[]): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, '--kubeconfig', kubeconfig, ...args], { env: { ...process.env, CI: 'true' }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ status: code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('tracelab status and verify on the local control plane', () => {
  let plane: ControlPlane | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-lab-status-'));
  const run = (...args: string[]): Promise<Run> => tracelab(plane?.kubeconfig ?? '', ...args);
  const status = async (): Promise<LabStatus> => {
    const result = await run('status', '--json');
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as LabStatus;
  };
  const layer = (s: LabStatus, name: string) => s.layers.find((l) => l.name === name);

  before(async () => {
    if (!controlPlaneBinaries.every(isBuilt)) return;
    plane = await startControlPlane({ nodes: 2 });
    await plane.kubectl(['label', 'node', 'kwok-node-0', 'node-role.kubernetes.io/control-plane=']);
  });

  after(async () => {
    await plane?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('an unreachable cluster: one line naming the server, exit 4, after 3 quick attempts (not the deploy engine\'s 5)', async (t) => {
    const port = await freePort();
    const kubeconfig = join(work, 'unreachable');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'lab', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'me', user: { token: 'x' } }],
        contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'me' } }],
        'current-context': 'lab',
      }),
    );
    for (const args of [['status'], ['status', '--json'], ['verify']]) {
      const result = await tracelab(kubeconfig, ...args);
      assert.equal(result.status, 4, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^✗ (read the status of|verify) the lab: cannot reach the Kubernetes API at https://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED .* \\(gave up after 3 attempts in [\\d.]+s\\) — check that the cluster is up`));
      t.diagnostic(`${args.join(' ')} on an unreachable API: exit 4 after ${result.ms} ms`);
    }
  });

  it('bad verify flags: one line, exit 2, before the cluster is contacted', async () => {
    for (const [args, message] of [
      [['--requests', '0'], /^✗ --requests '0' is not a request count from 1 to 100: pass e\.g\. --requests 5$/],
      [['--timeout', 'soon'], /^✗ --timeout 'soon' is not a duration/],
    ] as const) {
      const result = await tracelab('/nonexistent/kubeconfig', 'verify', ...args);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr.trim(), message);
    }
  });

  it('an empty cluster: the prerequisites, context, nodes Ready with roles and kubelet version, every layer missing', async (t) => {
    if (requireComponents(t, controlPlaneBinaries) === undefined || plane === undefined) return;
    const s = await status();
    assert.equal(s.server, plane.server);
    assert.match(s.serverVersion, /^v1\.\d+\.\d+/);
    assert.deepEqual(
      s.nodes.map((n) => [n.name, n.ready, n.roles]),
      [
        // kwok labels its nodes with the agent role.
        ['kwok-node-0', true, ['agent', 'control-plane']],
        ['kwok-node-1', true, ['agent']],
      ],
    );
    for (const n of s.nodes) assert.match(n.kubeletVersion, /\S/);
    const node = s.prerequisites.find((p) => p.name === 'node');
    assert.equal(node?.version, process.versions.node);
    assert.equal(node.ok, true);
    assert.ok(s.layers.length >= 3);
    for (const l of s.layers) assert.equal(l.state, 'missing', l.name);
    assert.ok(s.uis.length >= 3 && s.uis.every((ui) => !ui.installed && ui.url === null), JSON.stringify(s.uis));
    const text = await run('status');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^ ✓ +node +v?\d+\.\d+\.\d+ +runs tracelab$/m);
    assert.match(text.stdout, /^ - +demo +missing +tracelab up demo$/m);
    assert.match(text.stdout, /^ ✓ +kwok-node-0 +Ready +agent,control-plane +\S+$/m);
    assert.match(text.stdout, /^ - +Jaeger +- +not installed: tracelab deploy monitoring$/m);
  });

  it('the demo installed, then degraded when backend is scaled to 0 (naming it), and monitoring degraded naming its unavailable APIService', async (t) => {
    if (requireComponents(t, controlPlaneBinaries) === undefined || plane === undefined) return;
    const up = await run('up', 'demo', '--images', images, '--timeout', '2m');
    assert.equal(up.status, 0, up.stderr);
    let s = await status();
    assert.equal(layer(s, 'demo')?.state, 'installed', JSON.stringify(layer(s, 'demo')));
    assert.ok((layer(s, 'demo')?.objects ?? 0) > 10);
    assert.deepEqual(layer(s, 'demo')?.namespaces, ['tracelab-demo']);

    await plane.kubectl(['-n', 'tracelab-demo', 'scale', 'deployment/backend', '--replicas=0']);
    s = await status();
    assert.equal(layer(s, 'demo')?.state, 'degraded');
    assert.deepEqual(layer(s, 'demo')?.reasons, ['Deployment tracelab-demo/backend: scaled to 0 replicas']);

    // kwok runs no container: metrics-server's API never becomes Available.
    const monitoring = await run('up', 'monitoring', '--no-wait', '--timeout', '2m');
    assert.equal(monitoring.status, 0, monitoring.stderr);
    s = await status();
    assert.equal(layer(s, 'monitoring')?.state, 'degraded');
    assert.ok(layer(s, 'monitoring')?.reasons.some((r) => /^APIService v1beta1\.metrics\.k8s\.io: .*Available=False/.test(r)), JSON.stringify(layer(s, 'monitoring')));
    assert.deepEqual(s.uis.filter((ui) => ui.installed).map((ui) => [ui.service, ui.url]).sort(), [
      ['jaeger/jaeger-query:16686', 'http://localhost:16686'],
      ['monitoring/grafana:3000', 'http://localhost:3000'],
      ['monitoring/prometheus:9090', 'http://localhost:9090'],
    ]);
    const text = await run('status');
    assert.match(text.stdout, /^ ✗ +demo +degraded +\d+ objects$/m);
    assert.match(text.stdout, /^ {3}demo: Deployment tracelab-demo\/backend: scaled to 0 replicas$/m);
    assert.match(text.stdout, /^ ✓ +Jaeger +http:\/\/localhost:16686 +npm run ui forwards it there$/m);
  });

  it('verify fails with the right reasons: backend with no ready endpoints, Jaeger scaled to 0, the autoscalers; mesh rows not installed; exit 9', async (t) => {
    if (requireComponents(t, controlPlaneBinaries) === undefined || plane === undefined) return;
    await plane.kubectl(['-n', 'jaeger', 'scale', 'deployment/jaeger', '--replicas=0']);
    const result = await run('verify', '--json', '--requests', '2', '--timeout', '3s');
    t.diagnostic(`verify on the broken lab: ${result.ms} ms`);
    assert.equal(result.status, 9, result.stderr);
    assert.match(result.stderr, /^✗ verify: \d checks failed: .*\(reasons in the table\)$/m);
    const { passed, checks } = JSON.parse(result.stdout) as { passed: boolean; checks: CheckResult[] };
    assert.equal(passed, false);
    const check = (id: string): CheckResult | undefined => checks.find((c) => c.id === id);
    assert.equal(check('requests')?.status, 'fail');
    // kwok pods run nothing, so the frontend gives no answer; the cluster says why backend could not have.
    assert.match(check('requests')?.detail ?? '', /Service tracelab-demo\/backend has no ready endpoints: Deployment tracelab-demo\/backend is scaled to 0 replicas \(no pods\)/);
    assert.equal(check('traces')?.status, 'fail');
    assert.equal(check('traces')?.detail, 'Service jaeger/jaeger-query has no ready endpoints: Deployment jaeger/jaeger is scaled to 0 replicas (no pods)');
    assert.equal(check('autoscalers')?.status, 'fail');
    // No metrics-server runs: the HPA controller's own condition says so.
    assert.match(check('autoscalers')?.detail ?? '', /^HorizontalPodAutoscaler tracelab-demo\/frontend reports no CPU: ScalingActive=False FailedGetResourceMetric: .*metrics\.k8s\.io/);
    for (const id of ['mesh-spans', 'mesh-metrics', 'mesh-plaintext', 'mesh-caller']) {
      assert.deepEqual([check(id)?.status, check(id)?.detail], ['not-installed', 'the mesh layer is not installed: nothing to check'], id);
    }
    const table = await run('verify', '--requests', '1', '--timeout', '1s');
    assert.equal(table.status, 9);
    t.diagnostic(table.stdout);
    assert.match(table.stdout, /^✗ each request one trace in Jaeger +FAIL +Service jaeger\/jaeger-query has no ready endpoints/m);
    assert.match(table.stdout, /^- istio-proxy spans in each trace +not installed +the mesh layer is not installed/m);
    assert.match(table.stdout, /^verify: \d+ passed, [1-9]\d* failed, 4 not installed$/m);
  });

  it('status and verify change nothing', async (t) => {
    if (requireComponents(t, controlPlaneBinaries) === undefined || plane === undefined) return;
    // Objects the controllers leave alone once settled (HPAs and Leases they rewrite on their own).
    const versions = async (): Promise<string[]> =>
      ((await plane?.kubectl(['get', 'deployments,services,configmaps,secrets', '-A', '-o', 'jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}={.metadata.resourceVersion} {end}'])) ?? '').split(' ').filter((v) => v !== '').sort();
    const before = await versions();
    assert.ok(before.some((entry) => entry.startsWith('ConfigMap/kube-system/tracelab-layer-demo=')));
    await run('status');
    await run('verify', '--requests', '1', '--timeout', '1s');
    const afterwards = await versions();
    const changed = before.filter((entry) => !afterwards.includes(entry));
    assert.deepEqual(changed, []);
  });
});
