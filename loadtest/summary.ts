/**
 * The summary both runners print: what was measured, each threshold passed or failed. Pure (the
 * k6 script's type check reads `Measured`, the shape k6's handleSummary sends back).
 */
import { percentiles, type Percentile, type Scenario } from './scenario.ts';

/** What a run measured, the same from k6 and from the node runner. */
export interface Measured {
  /** Requests that got an answer or failed (timed out, refused). */
  readonly requests: number;
  /** Requests with a status of 400 or more, or with no answer. */
  readonly failed: number;
  /** Arrivals not sent because `maxConcurrency` requests were already in flight. */
  readonly dropped: number;
  readonly latencyMs: Readonly<Record<Percentile, number>>;
}

export interface ThresholdResult {
  /** e.g. `error rate` or `p95 latency`. */
  readonly name: string;
  /** e.g. `≤ 1%` or `< 500 ms`. */
  readonly limit: string;
  readonly actual: string;
  readonly passed: boolean;
}

export function errorRate(measured: Measured): number {
  return measured.requests === 0 ? 1 : measured.failed / measured.requests;
}

const percent = (share: number): string => `${Number((share * 100).toFixed(2))}%`;
const ms = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value).toString()} ms`;

/** Each threshold of the scenario against what was measured. No request at all fails the error-rate threshold. */
export function evaluateThresholds(scenario: Scenario, measured: Measured): ThresholdResult[] {
  const { maxErrorRate, latencyMs } = scenario.thresholds;
  const rate = errorRate(measured);
  const results: ThresholdResult[] = [
    {
      name: 'error rate',
      limit: `≤ ${percent(maxErrorRate)}`,
      actual: measured.requests === 0 ? 'no requests' : `${percent(rate)} (${measured.failed}/${measured.requests})`,
      passed: measured.requests > 0 && rate <= maxErrorRate,
    },
  ];
  for (const percentile of percentiles) {
    const limit = latencyMs[percentile];
    if (limit === undefined) continue;
    const actual = measured.latencyMs[percentile];
    results.push({ name: `${percentile} latency`, limit: `< ${ms(limit)}`, actual: ms(actual), passed: measured.requests > 0 && actual < limit });
  }
  return results;
}

/** Nearest-rank percentile of values sorted ascending (0 when there are none). */
export function percentileOf(sorted: readonly number[], percentile: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((percentile / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

/** p50 … p99 of latencies in milliseconds, in any order. */
export function latencyPercentiles(latencies: readonly number[]): Record<Percentile, number> {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: percentileOf(sorted, 50), p90: percentileOf(sorted, 90), p95: percentileOf(sorted, 95), p99: percentileOf(sorted, 99) };
}

/** The printed summary: one block, the same whichever runner measured it. */
export function summaryLines(scenario: Scenario, runner: string, measured: Measured, results: readonly ThresholdResult[], seconds: number): string[] {
  const rate = measured.requests === 0 ? '—' : percent(errorRate(measured));
  const lines = [
    `summary (${scenario.name}, ${runner} runner, ${Math.round(seconds)} s)`,
    `  requests     ${measured.requests} (${(measured.requests / Math.max(1, seconds)).toFixed(1)}/s), failed ${measured.failed}, error rate ${rate}${measured.dropped > 0 ? `, dropped ${measured.dropped} (maxConcurrency reached)` : ''}`,
    `  latency      ${percentiles.map((p) => `${p} ${ms(measured.latencyMs[p])}`).join('  ')}`,
    'thresholds',
  ];
  const width = Math.max(...results.map((result) => result.name.length));
  for (const result of results) {
    lines.push(`  ${result.passed ? '✓' : '✗'} ${result.name.padEnd(width)}  ${result.limit.padEnd(10)} ${result.actual}`);
  }
  return lines;
}
