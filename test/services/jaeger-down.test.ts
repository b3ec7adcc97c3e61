import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { requireComponent } from '../../testenv/components.ts';
import { startJaeger } from '../../testenv/jaeger.ts';
import { exportTo, startService } from './harness.ts';
import type { RunningService } from './harness.ts';
import { runLoad, total } from './load.ts';

const MiB = 1024 * 1024;
const heapCapMiB = 96;

function rssBytes(service: RunningService): number {
  const status = readFileSync(`/proc/${service.process.pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for ${service.name}`);
  return Number(kib) * 1024;
}

describe('services with Jaeger gone', () => {
  it('keep answering 200 for 20k requests within a 96 MiB heap: failed span batches are dropped, not kept', async (t) => {
    if (requireComponent(t, 'jaeger') === undefined) return;
    const jaeger = await startJaeger();
    // A heap cap turns "memory stays bounded" into pass/fail: spans kept for a collector that is
    // gone (80k here, 100+ MiB) would end the process with an out-of-memory crash.
    const telemetry = { ...exportTo(jaeger.otlpHttpUrl), OTEL_BSP_MAX_QUEUE_SIZE: '2048', OTEL_LOG_LEVEL: 'warn', NODE_OPTIONS: `--max-old-space-size=${heapCapMiB}` };
    const backend = await startService('backend', { env: telemetry });
    const frontend = await startService('frontend', { env: { ...telemetry, BACKEND_URL: backend.url } });
    try {
      // Warm up JIT, pools and the exporter while Jaeger is there, so growth below is the outage's.
      const warm = await runLoad({ url: `${frontend.url}/api/hello`, connections: 20, amount: 4000 });
      assert.equal(warm.statuses.get(200), 4000);
      assert.ok((await jaeger.findTraces('frontend', { limit: 5 })).length > 0, 'spans reached Jaeger before the outage');
      const before = { frontend: rssBytes(frontend), backend: rssBytes(backend) };

      await jaeger.stop();
      const rss: { frontend: number; backend: number }[] = [before];
      for (let round = 0; round < 2; round++) {
        const outage = await runLoad({ url: `${frontend.url}/api/hello`, connections: 20, amount: 10_000 });
        assert.equal(outage.statuses.get(200), 10_000, JSON.stringify([...outage.statuses]));
        assert.equal(total(outage.errors), 0, JSON.stringify([...outage.errors]));
        rss.push({ frontend: rssBytes(frontend), backend: rssBytes(backend) });
      }
      const mib = (bytes: number): string => (bytes / MiB).toFixed(0);
      t.diagnostic(`RSS MiB (warm, +10k, +10k without Jaeger; heap cap ${heapCapMiB} MiB): frontend ${rss.map((r) => mib(r.frontend)).join(' → ')}, backend ${rss.map((r) => mib(r.backend)).join(' → ')}`);
      assert.equal(frontend.process.exitStatus(), undefined, frontend.process.logTail());
      assert.equal(backend.process.exitStatus(), undefined, backend.process.logTail());
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
