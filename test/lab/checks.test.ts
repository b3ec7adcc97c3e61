// verify's request, trace and metrics checks against REAL parts: the demo services as real
// processes (the image's command) exporting to a real Jaeger v2 and scraped by a real Prometheus 3
// — a real trace through real services into real Jaeger. Then each part broken in turn: the check
// must fail with the right reason, never pass.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRecordingOutput } from '../../core/output.ts';
import { checkRequests } from '../../lab/checks/requests.ts';
import { checkRedMetrics } from '../../lab/checks/metrics.ts';
import { checkTraces } from '../../lab/checks/traces.ts';
import { formatChecks, runServiceChecks, verifyPassed, type CheckTargets } from '../../lab/verify.ts';
import { prometheusFeatureArgs } from '../../monitoring/prometheus.ts';
import { isBuilt, requireComponents, type ComponentBinary } from '../../testenv/components.ts';
import { startJaeger, type JaegerHandle } from '../../testenv/jaeger.ts';
import { startPrometheus, type PrometheusHandle } from '../../testenv/prometheus.ts';
import { exportTo, startService, type RunningService } from '../services/harness.ts';

const binaries: ComponentBinary[] = ['jaeger', 'prometheus'];

describe('verify checks against real services, a real Jaeger and a real Prometheus', () => {
  let jaeger: JaegerHandle | undefined;
  let prometheus: PrometheusHandle | undefined;
  let backend: RunningService | undefined;
  let frontend: RunningService | undefined;
  const targets = (): CheckTargets => ({
    frontend: { url: frontend?.url ?? '' },
    jaeger: { url: jaeger?.queryUrl ?? '' },
    prometheus: { url: prometheus?.url ?? '' },
    metricsSelector: '',
  });
  const options = { requests: 3, waitMs: 20_000, output: createRecordingOutput() };

  before(async () => {
    if (!binaries.every(isBuilt)) return;
    jaeger = await startJaeger();
    backend = await startService('backend', { env: exportTo(jaeger.otlpHttpUrl) });
    frontend = await startService('frontend', { env: { ...exportTo(jaeger.otlpHttpUrl), BACKEND_URL: backend.url } });
    prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${frontend.port}`, `127.0.0.1:${backend.port}`], extraArgs: prometheusFeatureArgs });
  });

  after(async () => {
    await frontend?.stop();
    await backend?.stop();
    await prometheus?.stop();
    await jaeger?.stop();
  });

  it('passes on the whole lab: every request answered, each trace frontend → backend in one chain, RED series of both services', async (t) => {
    if (requireComponents(t, binaries) === undefined) return;
    const started = Date.now();
    const { results, traces } = await runServiceChecks(targets(), options);
    t.diagnostic(`3 requests, their traces and the metrics checked in ${Date.now() - started} ms`);
    assert.ok(verifyPassed(results), formatChecks(results).join('\n'));
    assert.deepEqual(results.map((r) => [r.id, r.status]), [['requests', 'pass'], ['traces', 'pass'], ['metrics', 'pass']]);
    assert.match(results[0]?.detail ?? '', /^3 of 3 answered 200 with a trace id$/);
    assert.match(results[1]?.detail ?? '', /^3 of 3 found, frontend → backend in one parent chain \(5–5 spans\)$/);
    assert.match(results[2]?.detail ?? '', /^frontend \d+ requests \(200: \d+\); backend \d+ requests \(200: \d+\)$/);
    assert.equal(traces.size, 3);
    // The ids are the ones the frontend answered with, and Jaeger holds them as such.
    for (const [id, trace] of traces) assert.equal(trace.traceID, id);
  });

  it('a selector that matches no series fails naming the series it looked for', async (t) => {
    if (requireComponents(t, binaries) === undefined || prometheus === undefined) return;
    const result = await checkRedMetrics({ url: prometheus.url }, { services: ['frontend', 'backend'], selector: 'namespace="elsewhere"', waitMs: 1 });
    assert.equal(result.status, 'fail');
    assert.match(result.detail, /no tracelab_http_request_duration_seconds_count\{service="frontend",namespace="elsewhere"\} \(is frontend scraped\?\)/);
  });

  it('a trace id Jaeger never saw fails as not in Jaeger after the wait', async (t) => {
    if (requireComponents(t, binaries) === undefined || jaeger === undefined) return;
    const result = await checkTraces({ url: jaeger.queryUrl }, ['0123456789abcdef0123456789abcdef'], { waitMs: 1 });
    assert.equal(result.result.status, 'fail');
    assert.match(result.result.detail, /^1 of 1 not whole after 0 s: trace 0123456789abcdef0123456789abcdef not in Jaeger$/);
  });

  it('Jaeger down: requests still pass, the trace check fails naming Jaeger unreachable (with the cluster’s account when given)', async (t) => {
    if (requireComponents(t, binaries) === undefined || jaeger === undefined) return;
    await jaeger.stop();
    const queryUrl = jaeger.queryUrl;
    jaeger = undefined;
    const { results } = await runServiceChecks(
      { ...targets(), jaeger: { url: queryUrl }, diagnose: { jaeger: () => Promise.resolve('Service jaeger/jaeger-query has no ready endpoints') } },
      options,
    );
    assert.equal(results[0]?.status, 'pass', results[0]?.detail);
    assert.equal(results[1]?.status, 'fail');
    assert.match(results[1].detail, new RegExp(`^Jaeger unreachable at ${queryUrl.replace(/[.]/g, '\\.')}: ECONNREFUSED — Service jaeger/jaeger-query has no ready endpoints$`));
    assert.equal(verifyPassed(results), false);
  });

  it('backend down: the requests fail naming what frontend said about backend, and the trace check has nothing to look for', async (t) => {
    if (requireComponents(t, binaries) === undefined || backend === undefined || frontend === undefined) return;
    await backend.stop();
    backend = undefined;
    const result = await checkRequests({ url: frontend.url }, 2);
    assert.equal(result.result.status, 'fail');
    assert.match(result.result.detail, /^2 of 2 failed: 2× frontend answered 502: backend unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    // The frontend still answers with the trace id of the failed request.
    assert.ok(result.outcomes.every((outcome) => outcome.traceId !== undefined));
    const { results } = await runServiceChecks({ ...targets(), jaeger: { unavailable: 'stopped above' } }, { ...options, requests: 1 });
    assert.equal(results[0]?.status, 'fail');
    assert.equal(results[1]?.detail, 'stopped above');
  });

  it('Prometheus down: the metrics check fails naming Prometheus unreachable', async (t) => {
    if (requireComponents(t, binaries) === undefined || prometheus === undefined) return;
    await prometheus.stop();
    const url = prometheus.url;
    prometheus = undefined;
    const result = await checkRedMetrics({ url }, { services: ['frontend'], selector: '', waitMs: 1 });
    assert.equal(result.status, 'fail');
    assert.match(result.detail, /^Prometheus unreachable at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/);
  });

  it('frontend down: no answer, named as such', async (t) => {
    if (requireComponents(t, binaries) === undefined || frontend === undefined) return;
    await frontend.stop();
    const url = frontend.url;
    frontend = undefined;
    const result = await checkRequests({ url }, 1);
    assert.match(result.result.detail, /^1 of 1 failed: 1× no answer from the frontend: ECONNREFUSED$/);
  });
});
