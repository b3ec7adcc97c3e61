import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { requireComponent } from '../../testenv/components.ts';
import { promtool, startPrometheus } from '../../testenv/prometheus.ts';

describe('startPrometheus()', () => {
  it('scrapes a /metrics server and answers a query for its series', async (t) => {
    if (requireComponent(t, 'prometheus') === undefined) return;
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# HELP testenv_probe_total A probe counter.\n# TYPE testenv_probe_total counter\ntestenv_probe_total{route="/probe"} 42\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));
    const { port } = server.address() as AddressInfo;

    const prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`] });
    t.after(() => prometheus.stop());

    const [sample] = await prometheus.waitForSeries('testenv_probe_total{job="test"}');
    assert.ok(sample);
    assert.equal(sample.metric.route, '/probe');
    assert.equal(sample.value[1], '42');
    await assert.rejects(prometheus.query('sum('), /Prometheus query 'sum\(' failed/);
  });
});

describe('promtool()', () => {
  it('checks a rule file', async (t) => {
    if (requireComponent(t, 'promtool') === undefined) return;
    const dir = mkdtempSync(path.join(tmpdir(), 'tracelab-promtool-test-'));
    t.after(() => { rmSync(dir, { recursive: true, force: true }); });
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, 'groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n');
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up\n');
    assert.equal((await promtool(['check', 'rules', good])).code, 0);
    const result = await promtool(['check', 'rules', bad]);
    assert.notEqual(result.code, 0);
    assert.match(result.stdout + result.stderr, /FAILED/);
  });
});
