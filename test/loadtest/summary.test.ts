import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runLinks } from '../../loadtest/links.ts';
import { smoke } from '../../loadtest/scenarios/smoke.ts';
import { evaluateThresholds, latencyPercentiles, percentileOf, summaryLines, type Measured } from '../../loadtest/summary.ts';
import { aboveMinimum, replicaRange, timelineTable, type TimelineSample } from '../../loadtest/timeline.ts';

const good: Measured = { requests: 200, failed: 1, dropped: 0, latencyMs: { p50: 12, p90: 40, p95: 120, p99: 480 } };

describe('evaluateThresholds()', () => {
  // smoke: error rate ≤ 1 %, p95 < 500 ms, p99 < 1000 ms
  const cases: [string, Measured, boolean[]][] = [
    ['all within', good, [true, true, true]],
    ['exactly at the error limit passes (≤)', { ...good, failed: 2 }, [true, true, true]],
    ['one failure too many', { ...good, failed: 3 }, [false, true, true]],
    ['p95 at its limit fails (<)', { ...good, latencyMs: { ...good.latencyMs, p95: 500 } }, [true, false, true]],
    ['p99 over', { ...good, latencyMs: { ...good.latencyMs, p99: 1500 } }, [true, true, false]],
    ['no request at all fails everything', { requests: 0, failed: 0, dropped: 0, latencyMs: { p50: 0, p90: 0, p95: 0, p99: 0 } }, [false, false, false]],
  ];
  for (const [what, measured, passed] of cases) {
    it(what, () => {
      const results = evaluateThresholds(smoke, measured);
      assert.deepEqual(results.map((r) => r.name), ['error rate', 'p95 latency', 'p99 latency']);
      assert.deepEqual(results.map((r) => r.passed), passed);
    });
  }

  it('says limits and values the way a person reads them', () => {
    const [rate, p95] = evaluateThresholds(smoke, { ...good, failed: 3 });
    assert.deepEqual(rate, { name: 'error rate', limit: '≤ 1%', actual: '1.5% (3/200)', passed: false });
    assert.deepEqual(p95, { name: 'p95 latency', limit: '< 500 ms', actual: '120 ms', passed: true });
  });
});

describe('percentiles', () => {
  it('nearest rank over the sorted values', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentileOf(values, 50), 50);
    assert.equal(percentileOf(values, 99), 99);
    assert.equal(percentileOf([7], 99), 7);
    assert.equal(percentileOf([], 50), 0);
    assert.deepEqual(latencyPercentiles([5, 1, 3, 2, 4]), { p50: 3, p90: 5, p95: 5, p99: 5 });
  });
});

describe('summaryLines()', () => {
  it('one block: requests, latency percentiles, each threshold marked', () => {
    const measured = { ...good, failed: 3, dropped: 4 };
    const lines = summaryLines(smoke, 'node', measured, evaluateThresholds(smoke, measured), 10);
    assert.deepEqual(lines, [
      'summary (smoke, node runner, 10 s)',
      '  requests     200 (20.0/s), failed 3, error rate 1.5%, dropped 4 (maxConcurrency reached)',
      '  latency      p50 12 ms  p90 40 ms  p95 120 ms  p99 480 ms',
      'thresholds',
      '  ✗ error rate   ≤ 1%       1.5% (3/200)',
      '  ✓ p95 latency  < 500 ms   120 ms',
      '  ✓ p99 latency  < 1000 ms  480 ms',
    ]);
  });
});

describe('the timeline', () => {
  const start = 1_000_000;
  const sample = (offsetS: number, backend: number, cpu: number | undefined, desired = backend): TimelineSample => ({
    atMs: start + offsetS * 1000,
    deployments: {
      backend: { replicas: backend, desired, minReplicas: 2, cpuPercent: cpu },
      frontend: { replicas: 2, desired: 2, minReplicas: 2, cpuPercent: 10 },
    },
  });
  const samples = [sample(0, 2, undefined), sample(5, 2, 190, 5), sample(10, 5, 80), sample(70, 5, 3, 3), sample(85, 2, 2)];

  it('a row per sample: replicas, →desired while they differ, CPU % (? before the first reading); where the load ended', () => {
    assert.deepEqual(timelineTable(samples, start, start + 60_000), [
      'timeline (replicas, →desired, CPU as % of request as the autoscaler reads it)',
      '  t      backend    frontend',
      '  0:00   2   ?      2 10%',
      '  0:05   2→5 190%   2 10%',
      '  0:10   5 80%      2 10%',
      '  ··· load ended at 1:00',
      '  1:10   5→3 3%     2 10%',
      '  1:25   2 2%       2 10%',
    ]);
    assert.deepEqual(timelineTable([], start), ['timeline: no sample could be read']);
  });

  it('knows who is above the minimum (desired counts: a scale-up under way is above)', () => {
    assert.deepEqual(aboveMinimum(sample(5, 2, 190, 5)), [{ name: 'backend', replicas: 2, minReplicas: 2 }]);
    assert.deepEqual(aboveMinimum(sample(85, 2, 2)), []);
    // A Deployment without an autoscaler is never waited for.
    assert.deepEqual(aboveMinimum({ atMs: 0, deployments: { other: { replicas: 9 } } }), []);
  });

  it('replicaRange(): lowest, highest and last replicas of each', () => {
    assert.deepEqual(replicaRange(samples), { backend: { min: 2, max: 5, last: 2, minReplicas: 2 }, frontend: { min: 2, max: 2, last: 2, minReplicas: 2 } });
  });
});

describe('runLinks()', () => {
  it('Grafana in epoch milliseconds, Jaeger in microseconds, as npm run ui serves them', () => {
    const links = runLinks({ startMs: 1_700_000_000_000, endMs: 1_700_000_120_000 });
    assert.deepEqual(links.map((l) => l.url), [
      'http://localhost:3000/d/tracelab-autoscaling?from=1700000000000&to=1700000120000',
      'http://localhost:3000/d/tracelab-services?from=1700000000000&to=1700000120000',
      'http://localhost:16686/search?service=frontend&start=1700000000000000&end=1700000120000000&lookback=custom&limit=100',
    ]);
  });
});
