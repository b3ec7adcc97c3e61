import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { V1DaemonSet, V1Deployment, V1Secret } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.ts';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { count } from '../../core/kube/report.ts';
import { teardownLayer } from '../../core/kube/teardown.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { isBuilt, requireComponents } from '../../testenv/components.ts';
import { controlPlaneBinaries, startControlPlane, type ControlPlane } from '../../testenv/controlplane.ts';
import { deployMonitoring } from '../../monitoring/command.ts';
import { readGrafanaAdminPassword } from '../../monitoring/grafana-admin.ts';
import { monitoringLayer, nodeProfileLabel, parseMonitoringOptions, type MonitoringRawOptions } from '../../monitoring/layer.ts';

const BINARIES = controlPlaneBinaries;
const raw: MonitoringRawOptions = { 'node-profile': 'worker', retention: '12h' };
const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));

describe('deployMonitoring() on the local control plane (kwok nodes)', () => {
  let plane: ControlPlane | undefined;
  let kube: KubeClient | undefined;
  const globals = () => ({ kubeconfig: plane?.kubeconfig, context: undefined, dryRun: false, output: createRecordingOutput() });

  before(async () => {
    if (!BINARIES.every(isBuilt)) return;
    plane = await startControlPlane({ nodes: 2 });
    kube = createKube({ kubeconfig: plane.kubeconfig });
    // The inventory's worker profile, on one of the two nodes.
    await plane.kubectl(['label', 'node', 'kwok-node-1', `${nodeProfileLabel}=worker`]);
  });

  after(async () => {
    await kube?.close();
    await plane?.stop();
  });

  it('applies nothing for bad options: one line, exit code 2', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || !plane || !kube) return;
    for (const bad of [{ retention: '-1d' }, { dashboards: 'nosuch' }] as MonitoringRawOptions[]) {
      await assert.rejects(deployMonitoring(globals(), bad, { timeout: '1m', wait: true }), (err: unknown) => err instanceof UserError && err.exitCode === 2 && !err.message.includes('\n'));
    }
    const namespaces = await plane.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.doesNotMatch(namespaces, /namespace\/(monitoring|jaeger)\b/);
  });

  it('changes nothing in a dry run', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || !plane || !kube) return;
    const output = createRecordingOutput();
    const report = await deployMonitoring({ ...globals(), dryRun: true, output }, raw, { timeout: '1m', wait: true });
    assert.ok(report.dryRun);
    // The layer's afterApply hook runs in a dry run too, and only says what it would do.
    assert.ok(output.lines.includes(' ✓ Grafana admin password') && output.lines.includes('would be generated'), output.lines.join('\n'));
    const namespaces = await plane.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.doesNotMatch(namespaces, /namespace\/(monitoring|jaeger)\b/);
  });

  it('applies every object under strict validation and rolls out', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || !plane || !kube) return;
    const rendered = monitoringLayer.render(parseMonitoringOptions(raw));
    // kwok's pods run no container, so metrics-server's API never answers: the wait says so once
    // every workload is ready, naming the APIService, instead of waiting out the timeout.
    const started = Date.now();
    const waited = await deployMonitoring(globals(), raw, { timeout: '3m', wait: true }).catch((e: unknown) => e);
    assert.ok(waited instanceof UserError && waited.exitCode === 7, String(waited));
    assert.match(waited.message, /^its workloads are ready but an aggregated API is still not available 30s later:\n {2}APIService v1beta1\.metrics\.k8s\.io: Available=False/);
    assert.ok(Date.now() - started < 90_000, 'well before the 3m timeout');
    const report = await deployMonitoring(globals(), raw, { timeout: '3m', wait: false });
    assert.equal(count(report, 'unchanged'), rendered.length, JSON.stringify(report.outcomes.filter((o) => o.action !== 'unchanged')));
    const { password } = await readGrafanaAdminPassword(kube);
    assert.ok(password.length >= 24, 'a generated password of 24+ characters');
    const daemonSet = await kube.get<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'node-exporter', namespace: 'monitoring' });
    assert.equal(daemonSet?.status?.desiredNumberScheduled, 1, 'node-exporter only on the node of the worker profile');
    const pods = await plane.kubectl(['get', 'pods', '-n', 'monitoring', '-l', 'app=node-exporter', '-o', 'jsonpath={.items[*].spec.nodeName}']);
    assert.equal(pods.trim(), 'kwok-node-1');
    // Pod Security admitted every pod (restricted in jaeger, privileged only in monitoring), and they run.
    const phases = await plane.kubectl(['get', 'pods', '-A', '-l', 'app.kubernetes.io/part-of=tracelab-monitoring', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.labels.app}={.status.phase}{"\\n"}{end}']);
    assert.deepEqual(phases.trim().split('\n').sort(), [
      'jaeger/jaeger=Running',
      'kube-system/metrics-server=Running',
      'monitoring/grafana=Running',
      'monitoring/node-exporter=Running',
      'monitoring/prometheus=Running',
    ]);
  });

  it('re-applies with 0 changes and keeps the Grafana password', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || !kube) return;
    const before = await readGrafanaAdminPassword(kube);
    const report = await deployMonitoring(globals(), raw, { timeout: '3m', wait: false });
    const changed = report.outcomes.filter((outcome) => outcome.action !== 'unchanged');
    assert.deepEqual(changed, [], 'nothing created, changed or pruned');
    assert.deepEqual(await readGrafanaAdminPassword(kube), before);
    const secret = await kube.get<V1Secret>({ apiVersion: 'v1', kind: 'Secret', name: 'grafana-admin', namespace: 'monitoring' });
    const managers = (secret?.metadata?.managedFields ?? []).map((field) => field.manager).sort();
    assert.deepEqual(managers, ['tracelab-grafana-admin', 'tracelab-monitoring']);
  });

  it('re-applies through the CLI as well, and prints the password only when asked', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || !plane || !kube) return;
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, '--kubeconfig', plane?.kubeconfig ?? '', ...args], { encoding: 'utf8' });
    const deploy = run('deploy', 'monitoring', '--node-profile', 'worker', '--retention', '12h', '--no-wait');
    assert.equal(deploy.status, 0, deploy.stderr);
    const { password } = await readGrafanaAdminPassword(kube);
    assert.match(deploy.stderr, /monitoring: 0 created, 0 changed, \d+ unchanged, 0 pruned/);
    assert.ok(!(deploy.stdout + deploy.stderr).includes(password), 'deploy never prints the password');
    const shown = run('monitoring', 'password');
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal(shown.stdout, `user: admin\npassword: ${password}\n`);
  });

  it('tears down cleanly: namespaces, cluster-wide RBAC, metrics-server and its APIService are gone', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || !plane || !kube) return;
    const deleted = await teardownLayer(kube, { layer: 'monitoring', dryRun: false, timeoutMs: 120_000, output: createRecordingOutput() });
    assert.ok(deleted.length > 0);
    const namespaces = await plane.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.doesNotMatch(namespaces, /namespace\/(monitoring|jaeger)\b/);
    for (const ref of [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'tracelab-prometheus' },
      { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', name: 'v1beta1.metrics.k8s.io' },
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'metrics-server', namespace: 'kube-system' },
    ]) {
      assert.equal(await kube.get(ref), undefined, `${ref.kind} ${ref.name} is gone`);
    }
  });
});

describe('tracelab up monitoring (the generic layer path) on the local control plane', () => {
  let plane: ControlPlane | undefined;

  before(async () => {
    if (!BINARIES.every(isBuilt)) return;
    plane = await startControlPlane({ nodes: 1 });
  });

  after(async () => {
    await plane?.stop();
  });

  it('rolls out like `deploy monitoring`: the password generated once, never printed; a re-run changes nothing', async (t) => {
    if (requireComponents(t, BINARIES) === undefined || !plane) return;
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, '--kubeconfig', plane?.kubeconfig ?? '', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    // Without metrics-server: its API cannot answer on kwok's fake nodes (the first suite shows that wait).
    const up = run('up', 'monitoring', '--metrics-server', 'false', '--timeout', '3m');
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stderr, / ✓ Grafana admin password \(/);
    assert.match(up.stderr, / ✓ Wait for .*Deployment monitoring\/grafana/);
    const kube = createKube({ kubeconfig: plane.kubeconfig });
    try {
      const grafana = await kube.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'grafana', namespace: 'monitoring' });
      assert.equal(grafana?.status?.conditions?.find((c) => c.type === 'Available')?.status, 'True', 'Grafana is available');
      const { password } = await readGrafanaAdminPassword(kube);
      assert.ok(password.length >= 24, 'a generated password of 24+ characters');
      assert.ok(!(up.stdout + up.stderr).includes(password), 'up never prints the password');

      const again = run('up', 'monitoring', '--metrics-server', 'false', '--timeout', '3m');
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /monitoring: 0 created, 0 changed, \d+ unchanged, 0 pruned/);
      assert.deepEqual(await readGrafanaAdminPassword(kube), { user: 'admin', password }, 'the re-run keeps the password');
      assert.ok(!(again.stdout + again.stderr).includes(password), 'nor does the re-run print it');

      const shown = run('monitoring', 'password');
      assert.equal(shown.status, 0, shown.stderr);
      assert.equal(shown.stdout, `user: admin\npassword: ${password}\n`);
    } finally {
      await kube.close();
    }
  });
});
