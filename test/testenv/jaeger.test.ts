import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { requireComponent } from '../../testenv/components.ts';
import { isRunning } from '../../testenv/processes.ts';
import { renderJaegerConfig, startJaeger } from '../../testenv/jaeger.ts';

describe('startJaeger()', () => {
  it('receives an OTLP/HTTP JSON span and serves it through the query API', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined) return;
    const jaeger = await startJaeger();
    t.after(() => jaeger.stop());

    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const res = await fetch(`${jaeger.otlpHttpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceSpans: [{
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'testenv-probe' } }] },
          scopeSpans: [{
            spans: [{
              traceId, spanId, name: 'GET /probe', kind: 2,
              startTimeUnixNano: String(nowNs - 5_000_000n), endTimeUnixNano: String(nowNs),
            }],
          }],
        }],
      }),
    });
    assert.equal(res.status, 200, await res.text());

    const trace = await jaeger.waitForTrace(traceId);
    const [span] = trace.spans;
    assert.ok(span);
    assert.equal(span.operationName, 'GET /probe');
    assert.equal(span.spanID, spanId);
    assert.deepEqual(await jaeger.services(), ['testenv-probe']);
    const found = await jaeger.findTraces('testenv-probe');
    assert.deepEqual(found.map((tr) => tr.traceID), [traceId]);
  });

  it('stop() ends the process', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined) return;
    const jaeger = await startJaeger();
    await jaeger.stop();
    assert.equal(isRunning({ pid: jaeger.pid, startTicks: '' }), false);
  });

  it('runs a given config file on free ports instead of the ones it names', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined) return;
    const dir = mkdtempSync(path.join(tmpdir(), 'tracelab-jaeger-test-'));
    t.after(() => { rmSync(dir, { recursive: true, force: true }); });
    const configFile = path.join(dir, 'config.yaml');
    writeFileSync(configFile, renderJaegerConfig({
      otlpHttp: '127.0.0.1:1', otlpGrpc: '127.0.0.1:2', queryHttp: '127.0.0.1:3', queryGrpc: '127.0.0.1:4', maxTraces: 10,
    }));
    const jaeger = await startJaeger({ configFile });
    t.after(() => jaeger.stop());
    assert.deepEqual(await jaeger.services(), []);
  });
});
