import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts, isBuilt, requireComponent, waitForHttp } from '../../testenv/components.ts';
import { startJaeger, type JaegerHandle } from '../../testenv/jaeger.ts';
import { defaultJaegerPorts, renderJaegerConfig, renderJaegerConfigYaml, type JaegerPorts } from '../../monitoring/jaeger.ts';
import { exportTo, startService, type RunningService } from '../services/harness.ts';

/** Every listening address of a config, replaced by a placeholder: what must be all that differs. */
function withoutAddresses(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutAddresses);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, key === 'endpoint' || key === 'host' || key === 'port' ? '<address>' : withoutAddresses(inner)]),
    );
  }
  return value;
}

describe('renderJaegerConfig()', () => {
  it('differs between the cluster and a local run only in listening addresses', async () => {
    const [otlpGrpc, otlpHttp, queryHttp, queryGrpc, health, metrics] = (await freePorts(6)) as [number, number, number, number, number, number];
    const local = renderJaegerConfig({ maxTraces: 20000, host: '127.0.0.1', ports: { otlpGrpc, otlpHttp, queryHttp, queryGrpc, health, metrics } });
    const cluster = renderJaegerConfig({ maxTraces: 20000 });
    assert.deepEqual(withoutAddresses(local), withoutAddresses(cluster));
    assert.match(JSON.stringify(cluster), /"0\.0\.0\.0:4318"/);
  });
});

describe('the cluster Jaeger config in a real Jaeger v2', () => {
  let dir: string | undefined;
  let ports: JaegerPorts | undefined;
  let jaeger: JaegerHandle | undefined;
  let backend: RunningService | undefined;
  let frontend: RunningService | undefined;

  before(async () => {
    if (!isBuilt('jaeger')) return;
    dir = mkdtempSync(path.join(tmpdir(), 'tracelab-monitoring-jaeger-'));
    const [otlpGrpc, otlpHttp, queryHttp, queryGrpc, health, metrics] = (await freePorts(6)) as [number, number, number, number, number, number];
    ports = { otlpGrpc, otlpHttp, queryHttp, queryGrpc, health, metrics };
    const configFile = path.join(dir, 'config.yaml');
    writeFileSync(configFile, renderJaegerConfigYaml({ maxTraces: 1000, host: '127.0.0.1', ports }));
    // testenv moves the OTLP and query endpoints to its own free ports; health and metrics stay on ours.
    jaeger = await startJaeger({ configFile });
    backend = await startService('backend', { env: exportTo(jaeger.otlpHttpUrl) });
    frontend = await startService('frontend', { env: { ...exportTo(jaeger.otlpHttpUrl), BACKEND_URL: backend.url } });
  });

  after(async () => {
    await frontend?.stop();
    await backend?.stop();
    await jaeger?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts OTLP/HTTP from the real services and finds their trace through the query API', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined || !jaeger || !frontend) return;
    const response = await fetch(`${frontend.url}/api/hello`);
    assert.equal(response.status, 200);
    const { traceId } = (await response.json()) as { traceId: string };
    const trace = await jaeger.waitForTrace(traceId, { minSpans: 3, services: ['frontend', 'backend'] });
    const services = new Set(trace.spans.map((span) => trace.processes[span.processID]?.serviceName));
    assert.deepEqual([...services].sort(), ['backend', 'frontend']);
    assert.ok((await jaeger.services()).includes('frontend'), 'the v3 API lists the service');
  });

  it('answers the readiness probe path and serves its own metrics for Prometheus', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined || !ports) return;
    const { body } = await waitForHttp(`http://127.0.0.1:${ports.health}/status`, { what: 'Jaeger health check' });
    assert.equal((JSON.parse(body) as { healthy?: boolean }).healthy, true);
    const metrics = await waitForHttp(`http://127.0.0.1:${ports.metrics}/metrics`, { what: 'Jaeger metrics' });
    assert.match(metrics.body, /^# TYPE \w+/m);
  });

  it('listens for OTLP/gRPC (the mesh sidecars export there)', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined || !jaeger) return;
    const [host = '', port = ''] = jaeger.otlpGrpcEndpoint.split(':');
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port: Number(port) }, () => {
        socket.end();
        resolve();
      });
      socket.once('error', reject);
    });
  });

  it('keeps the cluster defaults on the contract ports', () => {
    assert.deepEqual([defaultJaegerPorts.otlpGrpc, defaultJaegerPorts.otlpHttp, defaultJaegerPorts.queryHttp], [4317, 4318, 16686]);
  });
});
