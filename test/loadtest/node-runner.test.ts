// The node runner against the real demo services, run as local processes with the image's start
// command (test/services/harness.ts): `tracelab loadtest smoke --runner node --target URL` as a
// person runs it — thresholds met (exit 0), thresholds failed (backend failing half its calls,
// or nothing listening: exit 9), Ctrl-C (exit 130 with what was measured), bad flags (exit 2).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../testenv/components.ts';
import { runNodeLoad } from '../../loadtest/runners/node.ts';
import { smoke } from '../../loadtest/scenarios/smoke.ts';
import { startService, type RunningService } from '../services/harness.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));

function loadtest(args: readonly string[], onStderr?: (text: string, signal: () => void) => void): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, '--kubeconfig', '/nonexistent/kubeconfig', 'loadtest', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr, () => child.kill('SIGINT'));
    });
    child.on('close', (status) => {
      resolve({ status, stderr });
    });
  });
}

/** frontend → backend as processes; backend's env decides how it behaves. */
async function startChain(backendEnv: Record<string, string> = {}): Promise<{ url: string; stop: () => Promise<void> }> {
  const backend = await startService('backend', { env: backendEnv });
  let frontend: RunningService;
  try {
    frontend = await startService('frontend', { env: { BACKEND_URL: backend.url } });
  } catch (err) {
    await backend.stop();
    throw err;
  }
  return {
    url: frontend.url,
    stop: async () => {
      await frontend.stop();
      await backend.stop();
    },
  };
}

describe('tracelab loadtest --runner node against the demo services run locally', () => {
  let healthy: { url: string; stop: () => Promise<void> } | undefined;
  before(async () => {
    healthy = await startChain();
  });
  after(async () => {
    await healthy?.stop();
  });

  it('smoke: the requests go through frontend and backend, every threshold passes, exit 0, no cluster needed', async () => {
    const run = await loadtest(['smoke', '--runner', 'node', '--target', healthy?.url ?? '', '--no-timeline']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^loadtest smoke: /m);
    const requests = Number(/^ {2}requests +(\d+) \(/m.exec(run.stderr)?.[1]);
    assert.ok(requests >= 45 && requests <= 60, `about 5/s for 10 s: ${String(requests)}`);
    assert.match(run.stderr, /^ {2}requests +\d+ \([\d.]+\/s\), failed 0, error rate 0%$/m);
    assert.match(run.stderr, /^ {2}latency +p50 [\d.]+ ms {2}p90 [\d.]+ ms {2}p95 [\d.]+ ms {2}p99 [\d.]+ ms$/m);
    for (const threshold of ['error rate', 'p95 latency', 'p99 latency']) assert.match(run.stderr, new RegExp(`^ {2}✓ ${threshold} `, 'm'));
    assert.doesNotMatch(run.stderr, /timeline \(/, '--no-timeline: no cluster read');
    assert.match(run.stderr, /^ {2}Jaeger, traces of the run +http:\/\/localhost:16686\/search\?service=frontend&start=\d+&end=\d+/m);
  });

  it("the scenario's headers reach backend through frontend (its latency knob shows in the percentiles)", async () => {
    const slow = { ...smoke, headers: { 'x-tracelab-latency-ms': '150' }, stages: [{ seconds: 3, rate: 5 }] };
    const measured = await runNodeLoad(slow, healthy?.url ?? '', { signal: new AbortController().signal });
    assert.equal(measured.failed, 0);
    assert.ok(measured.latencyMs.p50 >= 150, `p50 ${String(measured.latencyMs.p50)} ms`);
  });

  it('a backend failing half its calls: the error-rate threshold fails, exit 9, the summary says which', async () => {
    const failing = await startChain({ BACKEND_ERROR_RATE: '0.5' });
    try {
      const run = await loadtest(['smoke', '--runner', 'node', '--target', failing.url, '--no-timeline']);
      assert.equal(run.status, 9, run.stderr);
      assert.match(run.stderr, /^ {2}✗ error rate +≤ 1% +\d+(\.\d+)?% \(\d+\/\d+\)$/m);
      assert.match(run.stderr, /^✗ thresholds failed: error rate \d+(\.\d+)?% \(\d+\/\d+\) \(limit ≤ 1%\)$/m);
      const [, failed = '0', total = '1'] = /error rate +≤ 1% +[\d.]+% \((\d+)\/(\d+)\)/.exec(run.stderr) ?? [];
      const share = Number(failed) / Number(total);
      assert.ok(share > 0.2 && share < 0.8, `about half failed: ${failed}/${total}`);
    } finally {
      await failing.stop();
    }
  });

  it('nothing listening at the target: every request fails, counted, not a crash: exit 9', async () => {
    const port = await freePort();
    const run = await loadtest(['smoke', '--runner', 'node', '--target', `http://127.0.0.1:${String(port)}`, '--no-timeline']);
    assert.equal(run.status, 9, run.stderr);
    assert.match(run.stderr, /^ {2}✗ error rate +≤ 1% +100% \(\d+\/\d+\)$/m);
  });

  it('Ctrl-C mid-run: stops the load, prints what was measured, exit 130', async () => {
    let sent = false;
    const run = await loadtest(['smoke', '--runner', 'node', '--target', healthy?.url ?? '', '--no-timeline'], (text, interrupt) => {
      if (!sent && /requests\/s for/.test(text)) {
        sent = true;
        setTimeout(interrupt, 2000);
      }
    });
    assert.equal(run.status, 130, run.stderr);
    assert.match(run.stderr, /^summary \(smoke, node runner, [1-4] s\)$/m);
    assert.match(run.stderr, /^✗ stopped: the load ended early after \d+ requests; thresholds not judged$/m);
  });

  it('bad flags: one line each, exit 2, before anything is sent', () => {
    const cases: [string[], RegExp][] = [
      [[], /^✗ name a scenario: tracelab loadtest runs smoke, ramp, spike, soak \(e\.g\. npm run loadtest -- smoke\)$/],
      [['stress'], /^✗ unknown scenario 'stress' — tracelab loadtest runs smoke, ramp, spike, soak$/],
      [['smoke', '--runner', 'jmeter'], /^✗ --runner 'jmeter' is not a runner tracelab has: pass --runner k6 \(a Job in the cluster\) or --runner node \(from this machine\)$/],
      [['smoke', '--runner', 'node', '--target', 'ftp://example'], /^✗ --target 'ftp:\/\/example' must be an http:\/\/ or https:\/\/ URL$/],
      [['smoke', '--runner', 'node', '--target', 'not a url'], /^✗ --target 'not a url' is not a URL — e\.g\. http:\/\/127\.0\.0\.1:8080$/],
      [['smoke', '--sample-every', 'often'], /^✗ --sample-every 'often' is not a duration/],
    ];
    for (const [args, message] of cases) {
      const result = spawnSync(process.execPath, [cli, '--kubeconfig', '/nonexistent/kubeconfig', 'loadtest', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr.trim(), message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
  });

  it('needs the cluster without --target: a missing kubeconfig is named (exit 2), nothing sent', () => {
    const result = spawnSync(process.execPath, [cli, '--kubeconfig', '/nonexistent/kubeconfig', 'loadtest', 'smoke', '--runner', 'node'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /kubeconfig \/nonexistent\/kubeconfig does not exist/);
  });
});
