import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isBuilt, requireComponents, waitFor } from '../../testenv/components.ts';
import { startJaeger, type JaegerHandle } from '../../testenv/jaeger.ts';
import { startPrometheus, type PrometheusHandle } from '../../testenv/prometheus.ts';
import { parseMonitoringOptions } from '../../monitoring/layer.ts';
import { prometheusYaml, renderPrometheusConfig } from '../../monitoring/prometheus-config.ts';
import { prometheusFeatureArgs } from '../../monitoring/prometheus.ts';
import { requestMetric } from '../../monitoring/prometheus-rules.ts';
import { exportTo, startService, type RunningService } from '../services/harness.ts';
import { runLoad } from '../services/load.ts';

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

/**
 * The click a Grafana user makes on a latency exemplar: Prometheus (started with the Deployment's
 * own flags, so exemplar storage is on) holds exemplars whose trace_id Jaeger knows.
 */
describe('exemplars from the real services, through Prometheus, to a trace in Jaeger', () => {
  let prometheus: PrometheusHandle | undefined;
  let prometheusUrl = '';
  let jaeger: JaegerHandle | undefined;
  let backend: RunningService | undefined;
  let frontend: RunningService | undefined;

  before(async () => {
    if (!isBuilt('prometheus') || !isBuilt('jaeger')) return;
    jaeger = await startJaeger();
    backend = await startService('backend', { env: exportTo(jaeger.otlpHttpUrl) });
    frontend = await startService('frontend', { env: { ...exportTo(jaeger.otlpHttpUrl), BACKEND_URL: backend.url } });

    const options = parseMonitoringOptions({});
    const rendered = renderPrometheusConfig({ ...options, nodeExporterNamespace: 'monitoring' });
    const config = {
      ...rendered,
      rule_files: [],
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'kubernetes-pods', static_configs: [{ targets: [`127.0.0.1:${frontend.port}`, `127.0.0.1:${backend.port}`] }] }],
    };
    // The deployed Prometheus' own flags, so exemplar storage is on exactly as in the cluster.
    prometheus = await startPrometheus({ configYaml: prometheusYaml(config), extraArgs: prometheusFeatureArgs });
    prometheusUrl = prometheus.url;
    await runLoad({ url: `${frontend.url}/api/hello`, connections: 2, duration: 4 });
  });

  after(async () => {
    await prometheus?.stop();
    await frontend?.stop();
    await backend?.stop();
    await jaeger?.stop();
  });

  it('stores trace_id exemplars on the request histogram, and Jaeger has those traces', async (t) => {
    if (requireComponents(t, ['prometheus', 'jaeger']) === undefined || !jaeger) return;
    const end = Date.now() / 1000;
    const exemplars = await waitFor('exemplars of both services in Prometheus', async () => {
      const params = new URLSearchParams({ query: `${requestMetric}_bucket`, start: String(end - 300), end: String(end + 60) });
      const res = await fetch(`${prometheusUrl}/api/v1/query_exemplars?${params.toString()}`);
      const body = (await res.json()) as { status: string; data: ExemplarSeries[] };
      const services = new Set(body.data.filter((series) => series.exemplars.length > 0).map((series) => series.seriesLabels.service));
      return services.has('frontend') && services.has('backend') ? body.data : undefined;
    });
    const traceIds = exemplars.flatMap((series) => series.exemplars.map((exemplar) => exemplar.labels.trace_id ?? ''));
    for (const traceId of traceIds) assert.match(traceId, /^[0-9a-f]{32}$/);
    const frontendExemplar = exemplars.find((series) => series.seriesLabels.service === 'frontend')?.exemplars.at(-1)?.labels.trace_id;
    assert.ok(frontendExemplar !== undefined);
    const trace = await jaeger.waitForTrace(frontendExemplar, { minSpans: 2 });
    assert.equal(trace.traceID, frontendExemplar);
  });
});
