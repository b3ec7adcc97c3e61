import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServiceMetrics, methodLabel, observeRequest } from '../../../services/common/src/metrics.ts';

describe('createServiceMetrics()', () => {
  it('renders OpenMetrics with the service label and a trace_id exemplar', async () => {
    const metrics = createServiceMetrics('backend');
    observeRequest(metrics, { route: '/api/work', method: 'GET', status: '200' }, 0.004, '0af7651916cd43dd8448eb211c80319c');
    const text = await metrics.registry.metrics();
    assert.match(metrics.registry.contentType, /^application\/openmetrics-text/);
    assert.match(text, /tracelab_http_request_duration_seconds_bucket\{le="0.005",service="backend",route="\/api\/work",method="GET",status="200"\} 1 # \{trace_id="0af7651916cd43dd8448eb211c80319c"\} 0.004/);
    assert.match(text, /^tracelab_http_requests_in_flight\{service="backend"\} 0$/m);
    assert.match(text, /^process_cpu_user_seconds_total\{service="backend"\}/m);
    assert.match(text, /# EOF\n?$/);
  });

  it('counts requests without a trace (tracing off) and without an exemplar', async () => {
    const metrics = createServiceMetrics('frontend');
    observeRequest(metrics, { route: 'unmatched', method: 'GET', status: '404' }, 0.002, undefined);
    const text = await metrics.registry.metrics();
    assert.match(text, /^tracelab_http_request_duration_seconds_bucket\{le="0.0025",service="frontend",route="unmatched",method="GET",status="404"\} 1$/m);
  });
});

describe('methodLabel()', () => {
  it('keeps known methods and folds the rest into OTHER', () => {
    assert.deepEqual(['GET', 'POST', 'PROPFIND', 'get', undefined].map(methodLabel), ['GET', 'POST', 'OTHER', 'OTHER', 'OTHER']);
  });
});
