import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBuilt, requireComponent, waitFor } from '../../testenv/components.ts';
import { startPrometheus, type PrometheusHandle, type PromQueryData } from '../../testenv/prometheus.ts';
import { dashboardQueries, demoNamespace } from '../../monitoring/grafana-dashboards.ts';
import { parseMonitoringOptions } from '../../monitoring/layer.ts';
import { prometheusYaml, renderPrometheusConfig, type ScrapeConfig } from '../../monitoring/prometheus-config.ts';
import { renderAlertingRules, renderRecordingRules, renderRuleFiles, requestMetric } from '../../monitoring/prometheus-rules.ts';
import { startService, type RunningService, type ServiceName } from '../services/harness.ts';
import { runLoad } from '../services/load.ts';

/**
 * A real Prometheus 3 with the layer's rendered config and rule files scrapes the real frontend
 * and backend. Only the scrape targets differ from the cluster: static targets carry the labels
 * the `kubernetes-pods` relabelling gives pods there (job, namespace, pod, node, app), and the
 * intervals are 1s so a test needs seconds, not minutes.
 */
function localConfig(targets: { service: ServiceName; address: string }[], rulesGlob: string): string {
  const rendered = renderPrometheusConfig({ ...parseMonitoringOptions({}), nodeExporterNamespace: 'monitoring', rulesGlob });
  const pods: ScrapeConfig = {
    job_name: 'kubernetes-pods',
    static_configs: targets.map(({ service, address }) => ({
      targets: [address],
      labels: { namespace: demoNamespace, pod: `${service}-7d9f-abcde`, node: 'worker-1', app: service },
    })),
  };
  return prometheusYaml({ ...rendered, global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: [pods] });
}

/** Grafana's template variables, as a dashboard viewer with "All" services and a 1m rate window gets them. */
function substituteVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*');
}

const seriesOf = (data: PromQueryData): Record<string, string>[] => (data.resultType === 'vector' ? data.result.map((sample) => sample.metric) : []);

const redPanels = ['Request rate', 'Error ratio (5xx)', 'Duration p50 / p99 (exemplars link to traces)', 'Requests by route and status'];

describe('every dashboard and rule expression in a real Prometheus scraping the real services', () => {
  let dir = '';
  let prometheus: PrometheusHandle | undefined;
  let backend: RunningService | undefined;
  let frontend: RunningService | undefined;

  before(async () => {
    if (!isBuilt('prometheus')) return;
    dir = mkdtempSync(path.join(tmpdir(), 'tracelab-promql-'));
    mkdirSync(path.join(dir, 'rules'));
    for (const [name, text] of Object.entries(renderRuleFiles())) writeFileSync(path.join(dir, 'rules', name), text);
    backend = await startService('backend', { env: { BACKEND_LATENCY_MS: '5' } });
    frontend = await startService('frontend', { env: { BACKEND_URL: backend.url } });
    const targets = [
      { service: 'frontend' as const, address: `127.0.0.1:${frontend.port}` },
      { service: 'backend' as const, address: `127.0.0.1:${backend.port}` },
    ];
    prometheus = await startPrometheus({ configYaml: localConfig(targets, path.join(dir, 'rules', '*.yaml')) });
    // A little load: successes through the mesh path, and some backend errors for the error panels.
    // Over several scrapes: a counter series born with its final value would show no rate.
    await Promise.all([
      runLoad({ url: `${frontend.url}/api/hello`, connections: 4, duration: 6 }),
      runLoad({ url: `${backend.url}/api/work`, connections: 1, duration: 6, headers: { 'x-tracelab-error-rate': '0.3' } }),
    ]);
    await waitFor(
      'recorded request rates of both services',
      async () => {
        const data = await prometheus?.query('service:tracelab_http_requests:rate1m > 0');
        const services = new Set(seriesOf(data ?? { resultType: 'vector', result: [] }).map((labels) => labels.service));
        return services.has('frontend') && services.has('backend') ? true : undefined;
      },
      { deadlineMs: 30_000 },
    );
  });

  after(async () => {
    await prometheus?.stop();
    await frontend?.stop();
    await backend?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes both services with their own service label intact', async (t) => {
    if (requireComponent(t, 'prometheus') === undefined || !prometheus) return;
    const series = seriesOf(await prometheus.query(`count by (service, job, namespace, app) (${requestMetric}_count)`));
    const services = series.map((labels) => labels.service).sort();
    assert.deepEqual(services, ['backend', 'frontend']);
    for (const labels of series) {
      assert.equal(labels.job, 'kubernetes-pods');
      assert.equal(labels.app, labels.service, 'the app target label sits next to, not over, the service label');
    }
  });

  it('runs every dashboard expression without an error', async (t) => {
    if (requireComponent(t, 'prometheus') === undefined || !prometheus) return;
    const failures: string[] = [];
    for (const query of dashboardQueries()) {
      try {
        await prometheus.query(substituteVariables(query.expr));
      } catch (err) {
        failures.push(`${query.dashboard} / ${query.panel}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  it('returns data for both services from every RED panel of the services dashboard', async (t) => {
    if (requireComponent(t, 'prometheus') === undefined || !prometheus) return;
    const queries = dashboardQueries(['services']).filter((query) => redPanels.includes(query.panel));
    assert.equal(queries.length, 5, 'rate, errors, p99, p50, by route');
    for (const query of queries) {
      const services = new Set(seriesOf(await prometheus.query(substituteVariables(query.expr))).map((labels) => labels.service));
      assert.ok(services.has('frontend') && services.has('backend'), `${query.panel}: ${query.expr} → ${JSON.stringify([...services])}`);
    }
  });

  it('returns data from the autoscaling panels that the process metrics feed', async (t) => {
    if (requireComponent(t, 'prometheus') === undefined || !prometheus) return;
    for (const panel of ['Replicas (scraped pods)', 'CPU per pod (process)', 'Requests per pod']) {
      const query = dashboardQueries(['autoscaling']).find((candidate) => candidate.panel === panel);
      assert.ok(query, panel);
      const series = seriesOf(await prometheus.query(substituteVariables(query.expr)));
      assert.ok(series.length >= 2, `${panel}: ${query.expr} → ${series.length} series`);
    }
  });

  it('resolves the $service variable query to both services', async (t) => {
    if (requireComponent(t, 'prometheus') === undefined || !prometheus) return;
    const res = await fetch(`${prometheus.url}/api/v1/label/service/values?match[]=${encodeURIComponent(`${requestMetric}_count`)}`);
    const body = (await res.json()) as { data: string[] };
    assert.deepEqual(body.data.sort(), ['backend', 'frontend']);
  });

  it('evaluates every recording and alerting rule expression, with the RED recordings non-empty', async (t) => {
    if (requireComponent(t, 'prometheus') === undefined || !prometheus) return;
    for (const rule of [...renderRecordingRules().rules, ...renderAlertingRules().rules]) {
      await prometheus.query(rule.expr);
    }
    // The slow-request ratio needs the SLO threshold to be a bucket bound of the demo histogram.
    for (const record of ['service:tracelab_http_requests:rate1m', 'service:tracelab_http_errors:ratio_rate1m', 'service:tracelab_http_slow_requests:ratio_rate1m', 'service:tracelab_http_request_duration_seconds:p99_1m']) {
      const services = new Set(seriesOf(await prometheus.query(record)).map((labels) => labels.service));
      assert.ok(services.has('frontend') && services.has('backend'), `${record} → ${JSON.stringify([...services])}`);
    }
    const backendErrors = seriesOf(await prometheus.query('service:tracelab_http_errors:ratio_rate1m{service="backend"} > 0'));
    assert.equal(backendErrors.length, 1, 'the injected backend errors show in the error ratio');
  });
});
