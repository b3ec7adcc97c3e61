import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requireComponents, waitFor } from '../../testenv/components.ts';
import { startJaeger } from '../../testenv/jaeger.ts';
import { startPrometheus } from '../../testenv/prometheus.ts';
import { prometheusFeatureArgs } from '../../monitoring/prometheus.ts';
import { exportTo, startService } from './harness.ts';
import type { RunningService } from './harness.ts';

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

async function drive(frontend: RunningService, requests: number): Promise<string[]> {
  const traceIds: string[] = [];
  for (let i = 0; i < requests; i++) {
    const response = await fetch(`${frontend.url}/api/hello`);
    assert.equal(response.status, 200);
    traceIds.push(((await response.json()) as { traceId: string }).traceId);
  }
  return traceIds;
}

describe('RED metrics scraped by a real Prometheus', () => {
  it('has histogram series per service and route; an exemplar trace id is a trace in Jaeger', async (t) => {
    if (requireComponents(t, ['jaeger', 'prometheus']) === undefined) return;
    const jaeger = await startJaeger();
    const backend = await startService('backend', { env: exportTo(jaeger.otlpHttpUrl) });
    const frontend = await startService('frontend', { env: { ...exportTo(jaeger.otlpHttpUrl), BACKEND_URL: backend.url } });
    const targets = [`127.0.0.1:${frontend.port}`, `127.0.0.1:${backend.port}`];
    // Exemplar storage is a feature flag: the deployed Prometheus' flags turn it on.
    const prometheus = await startPrometheus({ scrapeTargets: targets, extraArgs: prometheusFeatureArgs });
    try {
      const traceIds = new Set(await drive(frontend, 30));

      const red = await waitFor('RED series for both services', async () => {
        const data = await prometheus.query('sum by (service, route, method, status) (tracelab_http_request_duration_seconds_count)');
        if (data.resultType !== 'vector') return undefined;
        const keys = data.result.map((s) => `${s.metric.service} ${s.metric.method} ${s.metric.route} ${s.metric.status}`).sort();
        return keys.includes('frontend GET /api/hello 200') && keys.includes('backend GET /api/work 200') ? data.result : undefined;
      });
      const frontendCount = red.find((s) => s.metric.service === 'frontend' && s.metric.route === '/api/hello');
      assert.equal(Number(frontendCount?.value[1]), 30);
      // Probes and scrapes are not in the histogram: only the demo routes appear.
      assert.deepEqual([...new Set(red.map((s) => s.metric.route))].sort(), ['/api/hello', '/api/work']);

      const p99 = await waitFor('p99 latency of both services', async () => {
        const data = await prometheus.query('histogram_quantile(0.99, sum by (le, service) (rate(tracelab_http_request_duration_seconds_bucket[1m])))');
        return data.resultType === 'vector' && data.result.length === 2 ? data.result : undefined;
      });
      assert.deepEqual(p99.map((s) => s.metric.service).sort(), ['backend', 'frontend']);
      const inFlight = await prometheus.waitForSeries('tracelab_http_requests_in_flight');
      assert.equal(inFlight.length, 2);
      await prometheus.waitForSeries('process_resident_memory_bytes{service="backend"}');

      const exemplars = await waitFor('exemplars of the frontend histogram', async () => {
        const now = Date.now() / 1000;
        const params = new URLSearchParams({ query: 'tracelab_http_request_duration_seconds_bucket{service="frontend"}', start: String(now - 300), end: String(now + 60) });
        const body = (await (await fetch(`${prometheus.url}/api/v1/query_exemplars?${params.toString()}`)).json()) as { data?: ExemplarSeries[] };
        const found = (body.data ?? []).flatMap((series) => series.exemplars);
        return found.length > 0 ? found : undefined;
      });
      const traceId = exemplars[0]?.labels.trace_id ?? '';
      assert.ok(traceIds.has(traceId), `exemplar trace id ${traceId} is one of the requests' trace ids`);
      const trace = await jaeger.waitForTrace(traceId, { minSpans: 5, services: ['frontend', 'backend'] });
      assert.deepEqual(new Set(Object.values(trace.processes).map((p) => p.serviceName)), new Set(['frontend', 'backend']));
    } finally {
      await prometheus.stop();
      await frontend.stop();
      await backend.stop();
      await jaeger.stop();
    }
  });
});
