import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboardNames, dashboardQueries, datasourceUids, renderDashboard } from '../../monitoring/grafana-dashboards.ts';
import { renderDatasources } from '../../monitoring/grafana.ts';

describe('renderDashboard()', () => {
  for (const name of dashboardNames) {
    it(`renders '${name}' with a stable uid, Prometheus targets and a gridded layout`, () => {
      const dashboard = renderDashboard(name);
      assert.equal(dashboard.uid, `tracelab-${name}`);
      assert.ok(dashboard.tags?.includes('tracelab'));
      const panels = (dashboard.panels ?? []).filter((panel) => 'targets' in panel);
      assert.ok(panels.length >= 4, `${name} has at least 4 panels`);
      for (const panel of panels) {
        assert.deepEqual(panel.datasource, { type: 'prometheus', uid: datasourceUids.prometheus }, panel.title);
        assert.ok(panel.gridPos !== undefined, `${panel.title ?? ''} is placed`);
      }
    });
  }

  it('puts exemplars on the services latency panel and a multi-value $service variable', () => {
    const dashboard = renderDashboard('services');
    const latency = (dashboard.panels ?? []).find((panel) => panel.title?.startsWith('Duration'));
    assert.ok(latency && 'targets' in latency);
    assert.equal((latency.targets?.[0] as { exemplar?: boolean }).exemplar, true);
    const variable = (dashboard.templating.list ?? []).find((v) => v.name === 'service');
    assert.ok(variable);
    assert.equal(variable.query, 'label_values(tracelab_http_request_duration_seconds_count, service)');
    assert.equal(variable.multi, true);
    assert.equal(variable.includeAll, true);
  });

  it('shows mesh traffic by source and destination workload', () => {
    assert.ok(dashboardQueries(['mesh']).some((query) => /istio_requests_total/.test(query.expr) && /source_workload, destination_workload/.test(query.expr)));
  });
});

describe('renderDatasources()', () => {
  it('links Prometheus exemplars to Jaeger and Jaeger spans back to the RED metrics', () => {
    const provisioning = renderDatasources() as { datasources: { uid: string; jsonData: Record<string, unknown> }[] };
    const prometheus = provisioning.datasources.find((ds) => ds.uid === datasourceUids.prometheus);
    const jaeger = provisioning.datasources.find((ds) => ds.uid === datasourceUids.jaeger);
    assert.deepEqual(prometheus?.jsonData.exemplarTraceIdDestinations, [{ name: 'trace_id', datasourceUid: datasourceUids.jaeger }]);
    const tracesToMetrics = jaeger?.jsonData.tracesToMetrics as { datasourceUid: string; tags: unknown; queries: { query: string }[] };
    assert.equal(tracesToMetrics.datasourceUid, datasourceUids.prometheus);
    assert.deepEqual(tracesToMetrics.tags, [{ key: 'service.name', value: 'service' }]);
    // `$$` survives Grafana's env interpolation of provisioning files as a literal `$`.
    for (const query of tracesToMetrics.queries) assert.match(query.query, /\{\$\$__tags/);
  });
});

describe('tracelab up|deploy monitoring with bad options', () => {
  const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
  // An unreachable cluster: were anything applied, the command would fail on the connection instead.
  const env = { ...process.env, KUBECONFIG: '/nonexistent/kubeconfig' };
  const cases: [string[], RegExp][] = [
    [['up', 'monitoring', '--retention', '-1d'], /--retention '-1d' is not a positive Prometheus duration/],
    [['deploy', 'monitoring', '--dashboards', 'nosuch'], /--dashboards: unknown dashboard 'nosuch'/],
    [['up', 'monitoring', '--max-traces', '0'], /--max-traces '0'/],
  ];
  for (const [args, message] of cases) {
    it(`'${args.join(' ')}' prints one line and exits 2`, () => {
      const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
      assert.equal(result.status, 2, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, message);
    });
  }

  it('renders the layer to files for GitOps', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tracelab-render-monitoring-'));
    try {
      const result = spawnSync(process.execPath, [cli, 'render', 'monitoring', '--out', dir, '--dashboards', 'services'], { encoding: 'utf8', env });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stderr + result.stdout, /monitoring: wrote \d+ files/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
