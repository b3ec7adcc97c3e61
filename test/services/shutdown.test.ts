import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../testenv/components.ts';
import { startService } from './harness.ts';
import type { RunningService } from './harness.ts';
import { runLoad, startBalancer, total } from './load.ts';

const graceMs = 8_000;
const connections = 20;

function requestLines(service: RunningService, status: number): number {
  return service.logLines().filter((line) => line.msg === 'request' && line.status === status).length;
}

/** SIGTERM now; resolves with the exit code and how long the drain took. */
async function terminate(service: RunningService): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  process.kill(service.process.pid, 'SIGTERM');
  const exit = await service.process.exited;
  return { code: exit.code, ms: Date.now() - started };
}

describe('serve() graceful shutdown under load', () => {
  it('SIGTERM to frontend: every accepted request answered 2xx, exit 0 within the grace period', async () => {
    const backend = await startService('backend', { env: { BACKEND_LATENCY_MS: '30' } });
    const frontend = await startService('frontend', { env: { BACKEND_URL: backend.url, SHUTDOWN_GRACE_MS: String(graceMs) } });
    try {
      let exit: { code: number | null; ms: number } | undefined;
      const load = await runLoad({ url: `${frontend.url}/api/hello`, connections, duration: 4 }, async () => {
        await sleep(1_500);
        exit = await terminate(frontend);
      });
      assert.equal(exit?.code, 0, frontend.process.logTail());
      assert.ok(exit.ms < graceMs, `drained in ${exit.ms} ms`);
      const ok = load.statuses.get(200) ?? 0;
      assert.ok(ok > 50, `load reached the frontend before SIGTERM (${ok} answers)`);
      assert.equal(total(load.statuses), ok, `only 200s: ${JSON.stringify([...load.statuses])}`);
      // Every request the frontend accepted was answered: it logged as many 200s as the client got.
      assert.equal(requestLines(frontend, 200), ok);
      // Not accepted: connections refused after close(), and at most one reset per keep-alive
      // connection — autocannon ignores `Connection: close` and writes its next request onto a
      // socket the server is closing; the server never read those requests (the log count above).
      assert.deepEqual([...load.errors.keys()].filter((code) => code !== 'ECONNREFUSED' && code !== 'ECONNRESET'), [], JSON.stringify([...load.errors]));
      assert.ok((load.errors.get('ECONNRESET') ?? 0) <= connections, JSON.stringify([...load.errors]));
      const draining = frontend.logLines().find((line) => line.msg === 'draining');
      assert.ok(typeof draining?.in_flight === 'number');
    } finally {
      await frontend.stop();
      await backend.stop();
    }
  });

  it('SIGTERM to one of two backends: the frontend retries onto the other, zero failed requests', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const backendA = await startService('backend', { port: portA, env: { BACKEND_LATENCY_MS: '30', SHUTDOWN_GRACE_MS: String(graceMs) } });
    const backendB = await startService('backend', { port: portB, env: { BACKEND_LATENCY_MS: '30' } });
    const balancer = await startBalancer([portA, portB]);
    const frontend = await startService('frontend', { env: { BACKEND_URL: `http://127.0.0.1:${balancer.port}` } });
    try {
      let exit: { code: number | null; ms: number } | undefined;
      const load = await runLoad({ url: `${frontend.url}/api/hello`, connections, duration: 4 }, async () => {
        await sleep(1_500);
        exit = await terminate(backendA);
      });
      assert.equal(exit?.code, 0, backendA.process.logTail());
      assert.ok(exit.ms < graceMs, `drained in ${exit.ms} ms`);
      // Stopping flushes the buffered log lines counted below.
      await frontend.stop();
      await backendB.stop();
      assert.ok(requestLines(backendA, 200) > 20, 'backend A served before SIGTERM');
      assert.ok(requestLines(backendB, 200) > 20, 'backend B served');
      assert.deepEqual([...load.statuses.keys()], [200], JSON.stringify([...load.statuses]));
      assert.equal(load.result.errors, 0, JSON.stringify([...load.errors]));
      // Requests still in flight when autocannon stops are answered but not counted by it.
      const served = requestLines(backendA, 200) + requestLines(backendB, 200);
      const ok = load.statuses.get(200) ?? 0;
      assert.ok(served >= ok && served <= ok + connections, `backends served ${served} for ${ok} answers`);
    } finally {
      await frontend.stop();
      await balancer.close();
      await backendA.stop();
      await backendB.stop();
    }
  });
});
