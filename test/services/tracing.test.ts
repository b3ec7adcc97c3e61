import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isBuilt, requireComponent, waitFor } from '../../testenv/components.ts';
import { startJaeger } from '../../testenv/jaeger.ts';
import type { JaegerHandle, JaegerSpan, JaegerTrace } from '../../testenv/jaeger.ts';
import { exportTo, startService } from './harness.ts';
import type { RunningService } from './harness.ts';

interface SpanView {
  service: string;
  name: string;
  id: string;
  parentId: string | undefined;
  kind: unknown;
  tags: Record<string, unknown>;
}

function view(trace: JaegerTrace, span: JaegerSpan): SpanView {
  const tags = Object.fromEntries(span.tags.map((tag) => [tag.key, tag.value]));
  return {
    service: trace.processes[span.processID]?.serviceName ?? '?',
    name: span.operationName,
    id: span.spanID,
    parentId: span.references.find((ref) => ref.refType === 'CHILD_OF')?.spanID,
    kind: tags['span.kind'],
    tags,
  };
}

/** The five spans of one /api/hello, each found by service and name, or a failure listing what is there. */
function spansOf(trace: JaegerTrace): Record<'frontendServer' | 'frontendClient' | 'backendServer' | 'lookup' | 'compute', SpanView> {
  const spans = trace.spans.map((span) => view(trace, span));
  const find = (service: string, name: string): SpanView => {
    const matches = spans.filter((span) => span.service === service && span.name === name);
    assert.equal(matches.length, 1, `one ${service} span "${name}" in ${JSON.stringify(spans.map((s) => `${s.service}:${s.name}`))}`);
    return matches[0] as SpanView;
  };
  assert.equal(spans.length, 5, `five spans, got ${JSON.stringify(spans.map((s) => `${s.service}:${s.name}`))}`);
  return {
    frontendServer: find('frontend', 'GET /api/hello'),
    frontendClient: find('frontend', 'GET'),
    backendServer: find('backend', 'GET /api/work'),
    lookup: find('backend', 'lookup'),
    compute: find('backend', 'compute'),
  };
}

describe('frontend → backend tracing through a real Jaeger', () => {
  let jaeger: JaegerHandle | undefined;
  let backend: RunningService | undefined;
  let frontend: RunningService | undefined;

  before(async () => {
    if (!isBuilt('jaeger')) return;
    jaeger = await startJaeger();
    backend = await startService('backend', { env: { ...exportTo(jaeger.otlpHttpUrl), POD_NAME: 'backend-7d9f-abcde', POD_NAMESPACE: 'tracelab-demo', NODE_NAME: 'worker-1' } });
    frontend = await startService('frontend', { env: { ...exportTo(jaeger.otlpHttpUrl), BACKEND_URL: backend.url } });
  });

  after(async () => {
    await frontend?.stop();
    await backend?.stop();
    await jaeger?.stop();
  });

  it('makes ONE trace: frontend server → frontend client → backend server → lookup, compute', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined || !jaeger || !frontend || !backend) return;
    const response = await fetch(`${frontend.url}/api/hello`, { headers: { 'x-request-id': 'req-tracing-1' } });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { traceId: string; backend: { traceId: string } };
    assert.match(body.traceId, /^[0-9a-f]{32}$/);
    assert.equal(body.backend.traceId, body.traceId, 'backend joined the frontend trace');

    const trace = await jaeger.waitForTrace(body.traceId, { minSpans: 5, services: ['frontend', 'backend'] });
    const s = spansOf(trace);
    assert.equal(s.frontendServer.kind, 'server');
    assert.equal(s.frontendServer.parentId, undefined, 'frontend server span is the root');
    assert.equal(s.frontendClient.kind, 'client');
    assert.equal(s.frontendClient.parentId, s.frontendServer.id);
    assert.equal(s.backendServer.kind, 'server');
    assert.equal(s.backendServer.parentId, s.frontendClient.id);
    assert.equal(s.lookup.kind, 'internal');
    assert.equal(s.lookup.parentId, s.backendServer.id);
    assert.equal(s.compute.kind, 'internal');
    assert.equal(s.compute.parentId, s.backendServer.id);

    assert.equal(s.frontendServer.tags['http.route'], '/api/hello');
    assert.equal(s.frontendServer.tags['http.request.method'], 'GET');
    assert.equal(s.frontendServer.tags['http.response.status_code'], 200);
    assert.equal(s.frontendClient.tags['url.full'], `${backend.url}/api/work`);
    assert.equal(s.frontendClient.tags['http.response.status_code'], 200);
    assert.equal(s.backendServer.tags['http.route'], '/api/work');
    assert.equal(s.backendServer.tags['http.response.status_code'], 200);
    for (const span of Object.values(s)) assert.notEqual(span.tags['otel.status_code'], 'ERROR', `${span.name} not an error`);

    const backendProcess = Object.values(trace.processes).find((p) => p.serviceName === 'backend');
    const resource = Object.fromEntries((backendProcess?.tags ?? []).map((tag) => [tag.key, tag.value]));
    assert.equal(resource['k8s.pod.name'], 'backend-7d9f-abcde');
    assert.equal(resource['k8s.namespace.name'], 'tracelab-demo');
    assert.equal(resource['k8s.node.name'], 'worker-1');
    assert.equal(resource['service.version'], '0.1.0');

    // The request log lines carry the ids of the server spans, and x-request-id crossed the hop.
    const logLine = (service: RunningService): Promise<Record<string, unknown>> =>
      waitFor(`${service.name} request log line of trace ${body.traceId}`, () => service.logLines().find((line) => line.trace_id === body.traceId), { deadlineMs: 5_000, intervalMs: 50 });
    const frontendLine = await logLine(frontend);
    assert.equal(frontendLine.span_id, s.frontendServer.id);
    assert.equal(frontendLine.route, '/api/hello');
    assert.equal(frontendLine.status, 200);
    const backendLine = await logLine(backend);
    assert.equal(backendLine.span_id, s.backendServer.id);
    assert.equal(backendLine.request_id, 'req-tracing-1');
  });

  it('continues an incoming trace context and request id, as the mesh ingress sends them', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined || !jaeger || !frontend || !backend) return;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const ingressSpanId = '00f067aa0ba902b7';
    const response = await fetch(`${frontend.url}/api/hello`, {
      headers: { traceparent: `00-${traceId}-${ingressSpanId}-01`, tracestate: 'ingress=opaque', 'x-request-id': 'req-from-ingress' },
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { traceId: string; backend: { traceId: string } };
    assert.equal(body.traceId, traceId, 'frontend continued the incoming trace');
    assert.equal(body.backend.traceId, traceId, 'backend joined it');
    const trace = await jaeger.waitForTrace(traceId, { minSpans: 5, services: ['frontend', 'backend'] });
    const frontendServer = trace.spans.map((span) => view(trace, span)).find((span) => span.service === 'frontend' && span.name === 'GET /api/hello');
    assert.equal(frontendServer?.parentId, ingressSpanId, "frontend's server span is a child of the ingress span");
    const backendLine = await waitFor('backend request log line of the ingress trace', () => backend?.logLines().find((line) => line.trace_id === traceId), { deadlineMs: 5_000, intervalMs: 50 });
    assert.equal(backendLine.request_id, 'req-from-ingress');
  });

  it('passes traceparent, tracestate and x-request-id on to backend', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined || !jaeger) return;
    const echo = createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ headers: request.headers }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const { port } = echo.address() as AddressInfo;
    const echoing = await startService('frontend', { env: { ...exportTo(jaeger.otlpHttpUrl), BACKEND_URL: `http://127.0.0.1:${port}` } });
    try {
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const response = await fetch(`${echoing.url}/api/hello`, {
        headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, tracestate: 'ingress=opaque', 'x-request-id': 'req-echo' },
      });
      const { backend: seen } = (await response.json()) as { backend: { headers: Record<string, string> } };
      assert.match(seen.headers.traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      assert.doesNotMatch(seen.headers.traceparent ?? '', /b7ad6b7169203331/, "the parent is frontend's client span, not the ingress span");
      assert.equal(seen.headers.tracestate, 'ingress=opaque');
      assert.equal(seen.headers['x-request-id'], 'req-echo');
    } finally {
      await echoing.stop();
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it('marks an injected backend error on compute, backend server, frontend client and server spans; frontend answers 502', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined || !jaeger || !frontend) return;
    const response = await fetch(`${frontend.url}/api/hello`, { headers: { 'x-tracelab-error-rate': '1' } });
    assert.equal(response.status, 502);
    const body = (await response.json()) as { traceId: string; backendStatus: number; error: string };
    assert.equal(body.backendStatus, 500);
    assert.equal(body.error, 'backend answered 500');

    const trace = await jaeger.waitForTrace(body.traceId, { minSpans: 5, services: ['frontend', 'backend'] });
    const s = spansOf(trace);
    for (const span of [s.compute, s.backendServer, s.frontendClient, s.frontendServer]) {
      assert.equal(span.tags['otel.status_code'], 'ERROR', `${span.service} ${span.name} has error status`);
    }
    assert.notEqual(s.lookup.tags['otel.status_code'], 'ERROR', 'lookup succeeded');
    assert.equal(s.backendServer.tags['http.response.status_code'], 500);
    assert.equal(s.frontendClient.tags['http.response.status_code'], 500);
    assert.equal(s.frontendServer.tags['http.response.status_code'], 502);
  });
});
