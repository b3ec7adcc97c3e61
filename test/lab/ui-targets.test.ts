// Integration on the local control plane (real kube-apiserver, controllers, kwok nodes): which
// UIs `tracelab ui` finds installed and the pod each forward resolves to (ready, not being
// deleted, the Service's named targetPort), the "not installed" rows, and the command's life as a
// person sees it — the table once the ports listen, Ctrl-C closing every port with exit 0, a
// local port already taken, --password without Grafana, --headlamp installing Headlamp and
// printing a token the API server accepts. No connection is made through a forward here: kwok's
// pods run nothing (test/lab/ui.test.ts forwards to real pods on a real node).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { createKube } from '../../core/kube/client.ts';
import { resolveServiceTarget } from '../../core/kube/port-forward.ts';
import { findUis, type UiState } from '../../lab/ui.ts';
import { localCluster } from '../core/kube/local-cluster.ts';
import type { ControlPlane } from '../../testenv/controlplane.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const cluster = localCluster(1);
const work = mkdtempSync(join(tmpdir(), 'tracelab-ui-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Whether something listens on 127.0.0.1:port — found by trying to listen there, so no connection is ever made. */
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

interface UiRun {
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves once stdout matches. */
  readonly printed: (pattern: RegExp) => Promise<void>;
  readonly exit: Promise<number | null>;
  readonly interrupt: () => void;
}

function startUi(cp: ControlPlane, args: readonly string[]): UiRun {
  const child = spawn(process.execPath, [cli, '--kubeconfig', cp.kubeconfig, 'ui', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  const check = (): void => {
    for (const waiter of waiters.filter((w) => w.pattern.test(stdout))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    printed: (pattern) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiters.push({ pattern, resolve });
          check();
        }),
        exit.then((status) => {
          throw new Error(`tracelab ui ended (exit ${String(status)}) before printing ${String(pattern)}:\n${stdout}\n${stderr}`);
        }),
      ]),
    exit,
    interrupt: () => child.kill('SIGINT'),
  };
}

const byKey = (states: UiState[]) => Object.fromEntries(states.map((s) => [s.spec.key, s]));

describe('tracelab ui on the local control plane', () => {
  it('finds the installed UIs and where each forward goes; the others are "not installed" with the command that installs them', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const deployed = spawnSync(process.execPath, [cli, '--kubeconfig', found.cp.kubeconfig, 'deploy', 'monitoring', '--metrics-server', 'false', '--grafana', 'false', '--timeout', '2m'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(deployed.status, 0, deployed.stderr);
    const states = byKey(await findUis(found.kube));
    assert.deepEqual(
      Object.fromEntries(Object.entries(states).map(([key, s]) => [key, s.installed ? (s.target ?? s.problem ?? '').replace(/-[a-z0-9]+-[a-z0-9]+:/, '-…:') : `not installed: ${s.spec.install}`])),
      {
        grafana: 'not installed: tracelab deploy monitoring --grafana true',
        jaeger: 'jaeger/jaeger-…:16686',
        prometheus: 'monitoring/prometheus-…:9090',
        headlamp: 'not installed: tracelab ui --headlamp',
        kiali: 'not installed: tracelab up mesh --kiali true',
      },
    );
  });

  it('resolves a Service port to a ready pod that is not being deleted, and the container port its targetPort names', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const pod = (name: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'ui-targets', labels: { app: name.startsWith('web') ? 'web' : name }, ...extra },
      spec: { containers: [{ name: 'server', image: 'registry.invalid/web:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
    });
    const service = (name: string, ports: unknown[]) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ui-targets' }, spec: { selector: { app: name }, ports } });
    const apply = (object: unknown) => found.cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(object) });
    await found.cp.kubectl(['create', 'namespace', 'ui-targets']);
    await apply(service('web', [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'raw', port: 81, targetPort: 9000 }, { name: 'metrics', port: 83, targetPort: 'metrics' }]));
    await apply(service('lonely', [{ port: 80 }]));
    // A finalizer keeps web-b (Terminating) once deleted.
    await apply(pod('web-b', { finalizers: ['tracelab.test/hold'] }));
    await found.cp.kubectl(['wait', '-n', 'ui-targets', '--for=condition=Ready', 'pod/web-b', '--timeout=60s']);
    await apply({ ...pod('lonely'), spec: { ...pod('lonely').spec, nodeName: 'no-such-node' } });
    assert.deepEqual(await resolveServiceTarget(found.kube, 'ui-targets', 'web', 80), { pod: 'web-b', port: 8080 });
    assert.deepEqual(await resolveServiceTarget(found.kube, 'ui-targets', 'web', 81), { pod: 'web-b', port: 9000 });

    await apply(pod('web-a'));
    await found.cp.kubectl(['wait', '-n', 'ui-targets', '--for=condition=Ready', 'pod/web-a', '--timeout=60s']);
    await found.cp.kubectl(['delete', 'pod', '-n', 'ui-targets', 'web-b', '--wait=false']);
    assert.deepEqual(await resolveServiceTarget(found.kube, 'ui-targets', 'web', 80), { pod: 'web-a', port: 8080 }, 'the pod being deleted is passed over');
    await found.cp.kubectl(['patch', 'pod', '-n', 'ui-targets', 'web-b', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);

    await assert.rejects(resolveServiceTarget(found.kube, 'ui-targets', 'web', 82), /^Error: Service ui-targets\/web has no port 82 \(it has 80, 81, 83\)$/);
    await assert.rejects(resolveServiceTarget(found.kube, 'ui-targets', 'web', 83), /^Error: pod ui-targets\/web-a has no container port named 'metrics' \(the targetPort of Service ui-targets\/web port 83\)$/);
    await assert.rejects(resolveServiceTarget(found.kube, 'ui-targets', 'lonely', 80), /^Error: no ready pod behind Service ui-targets\/lonely \(1 pods, none ready\)$/);
    await assert.rejects(resolveServiceTarget(found.kube, 'ui-targets', 'nosuch', 80), /^Error: Service ui-targets\/nosuch does not exist$/);
  });

  it('prints one table once the ports listen; Ctrl-C closes every port and ends with exit 0', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const ui = startUi(found.cp, ['--port-offset', '21000']);
    await ui.printed(/^Kiali .*\n/m);
    assert.match(ui.stdout(), /^Grafana +not installed +install it with tracelab deploy monitoring --grafana true$/m);
    assert.match(ui.stdout(), /^Jaeger +http:\/\/127\.0\.0\.1:37686$/m);
    assert.match(ui.stdout(), /^Prometheus +http:\/\/127\.0\.0\.1:30090$/m);
    assert.match(ui.stdout(), /^Headlamp +not installed +install it with tracelab ui --headlamp$/m);
    assert.match(ui.stdout(), /^Kiali +not installed +install it with tracelab up mesh --kiali true$/m);
    assert.doesNotMatch(ui.stdout(), /password/i, 'the Grafana password only on request');
    assert.deepEqual([await listening(37686), await listening(30090), await listening(24000)], [true, true, false]);
    ui.interrupt();
    assert.equal(await ui.exit, 0, ui.stderr());
    assert.match(ui.stderr(), /^closed 2 port-forwards$/m);
    assert.deepEqual([await listening(37686), await listening(30090)], [false, false]);
  });

  it('a local port another program holds: one line naming it and the flags that move it, exit 2', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(31090, '127.0.0.1', resolve));
    try {
      const ui = startUi(found.cp, ['--port-offset', '21000', '--prometheus-port', '31090']);
      assert.equal(await ui.exit, 2);
      assert.equal(ui.stderr().trim(), '✗ local port 31090 for Prometheus is already in use by another program — pass --prometheus-port <port> or --port-offset <n>');
      assert.equal(ui.stdout(), '', 'no table: nothing was forwarded');
      assert.equal(await listening(37686), false, "Jaeger's port closed again");
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('--password with no Grafana installed: one line, exit 2, nothing forwarded', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const ui = startUi(found.cp, ['--port-offset', '21000', '--password']);
    assert.equal(await ui.exit, 2);
    assert.equal(ui.stderr().trim(), '✗ Grafana is not installed, so it has no password — install it with `tracelab deploy monitoring --grafana true`');
  });

  it('--headlamp installs Headlamp through the deploy engine, forwards to it and prints a sign-in token the API server accepts', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const ui = startUi(found.cp, ['--port-offset', '22000', '--headlamp', '--token-ttl', '30m']);
    await ui.printed(/^Headlamp token .*\n.+\n/m);
    assert.match(ui.stderr(), /^headlamp: \d+ created/m);
    assert.match(ui.stdout(), /^Headlamp +http:\/\/127\.0\.0\.1:26466 +sign in with the token below \(headlamp\/headlamp-viewer, read-only, valid 30m\)$/m);
    const token = /^Headlamp token \(headlamp\/headlamp-viewer, expires (\S+)\):\n(.+)$/m.exec(ui.stdout());
    assert.ok(token !== null, ui.stdout());
    const expiresInS = (Date.parse(token[1] ?? '') - Date.now()) / 1000;
    assert.ok(expiresInS > 1700 && expiresInS <= 1800, `expires in ${String(expiresInS)} s`);
    ui.interrupt();
    assert.equal(await ui.exit, 0, ui.stderr());
    assert.match(ui.stderr(), /^closed 3 port-forwards$/m);

    const admin = found.cp.kubeConfig();
    const server = admin.getCurrentCluster();
    assert.ok(server !== null);
    const config = new KubeConfig();
    config.loadFromOptions({ clusters: [server], users: [{ name: 'viewer', token: token[2] ?? '' }], contexts: [{ name: 'viewer', cluster: server.name, user: 'viewer' }], currentContext: 'viewer' });
    const file = join(work, 'viewer');
    writeFileSync(file, config.exportConfig());
    const viewer = createKube({ kubeconfig: file });
    try {
      const review = await viewer.request<{ status?: { userInfo?: { username?: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
      assert.equal(review.status?.userInfo?.username, 'system:serviceaccount:headlamp:headlamp-viewer');
    } finally {
      await viewer.close();
    }
  });

  it('--dry-run prints the table it would forward, installs nothing and forwards nothing', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const run = spawnSync(process.execPath, [cli, '--kubeconfig', found.cp.kubeconfig, '--dry-run', 'ui', '--port-offset', '23000'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Jaeger +http:\/\/127\.0\.0\.1:39686$/m);
    assert.match(run.stderr, /^would request a 1h sign-in token for headlamp\/headlamp-viewer$/m);
    assert.match(run.stderr, /^dry run: nothing forwarded$/m);
  });
});
