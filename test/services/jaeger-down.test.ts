import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { requireComponent } from '../../testenv/components.ts';
import { startJaeger } from '../../testenv/jaeger.ts';
import { exportTo, startService } from './harness.ts';
import type { RunningService } from './harness.ts';
import { runLoad, total } from './load.ts';

const MiB = 1024 * 1024;

function rssBytes(service: RunningService): number {
  const status = readFileSync(`/proc/${service.process.pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for ${service.name}`);
  return Number(kib) * 1024;
}

describe('services with Jaeger gone', () => {
  it('keep answering 200 and memory plateaus: failed span batches are dropped, the queue is capped', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined) return;
    const jaeger = await startJaeger();
    const telemetry = { ...exportTo(jaeger.otlpHttpUrl), OTEL_BSP_MAX_QUEUE_SIZE: '2048', OTEL_LOG_LEVEL: 'warn' };
    const backend = await startService('backend', { env: telemetry });
    const frontend = await startService('frontend', { env: { ...telemetry, BACKEND_URL: backend.url } });
    try {
      // Warm up JIT, pools and the exporter while Jaeger is there, so growth below is the outage's.
      const warm = await runLoad({ url: `${frontend.url}/api/hello`, connections: 20, amount: 4000 });
      assert.equal(warm.statuses.get(200), 4000);
      assert.ok((await jaeger.findTraces('frontend', { limit: 5 })).length > 0, 'spans reached Jaeger before the outage');
      const before = { frontend: rssBytes(frontend), backend: rssBytes(backend) };

      await jaeger.stop();
      // Two equal rounds without Jaeger: a queue that kept spans would grow by the same amount
      // in each (~40k spans ≈ 50+ MiB per round); a capped one plateaus after the first.
      const rss: { frontend: number; backend: number }[] = [before];
      for (let round = 0; round < 2; round++) {
        const outage = await runLoad({ url: `${frontend.url}/api/hello`, connections: 20, amount: 10_000 });
        assert.equal(outage.statuses.get(200), 10_000, JSON.stringify([...outage.statuses]));
        assert.equal(total(outage.errors), 0, JSON.stringify([...outage.errors]));
        rss.push({ frontend: rssBytes(frontend), backend: rssBytes(backend) });
      }
      const mib = (bytes: number): string => (bytes / MiB).toFixed(0);
      t.diagnostic(`RSS MiB (warm, +10k, +10k without Jaeger): frontend ${rss.map((r) => mib(r.frontend)).join(' → ')}, backend ${rss.map((r) => mib(r.backend)).join(' → ')}`);
      const [, first, second] = rss as [unknown, { frontend: number; backend: number }, { frontend: number; backend: number }];
      for (const name of ['frontend', 'backend'] as const) {
        assert.ok(second[name] - first[name] < 32 * MiB, `${name} RSS still grew ${mib(second[name] - first[name])} MiB in the second round`);
        assert.ok(second[name] < 512 * MiB, `${name} RSS ${mib(second[name])} MiB`);
      }
      // With OTEL_LOG_LEVEL=warn the SDK reports each failed batch: they are discarded, not kept for later.
      const failedExports = backend.process.logTail(100_000).split('\n').filter((line) => line.includes('ECONNREFUSED')).length;
      assert.ok(failedExports > 0, 'backend reported failed span exports');
    } finally {
      await frontend.stop();
      await backend.stop();
      await jaeger.stop();
    }
  });
});
