import type { Scenario } from '../scenario.ts';

/** A quiet baseline, a sudden burst at fifteen times the rate, and back: errors and latency while pods are added. */
export const spike: Scenario = {
  name: 'spike',
  intent: 'a sudden burst at 15x the baseline and back: how errors and latency hold up',
  path: '/api/hello',
  headers: { 'x-tracelab-cpu-ms': '5' },
  startRate: 2,
  stages: [
    { seconds: 10, rate: 2 }, // baseline
    { seconds: 5, rate: 30 }, // the spike
    { seconds: 20, rate: 30 },
    { seconds: 5, rate: 2 }, // back
    { seconds: 15, rate: 2 }, // recovery
  ],
  maxConcurrency: 60,
  requestTimeoutSeconds: 10,
  thresholds: { maxErrorRate: 0.05, latencyMs: { p95: 2000, p99: 5000 } },
  settleSeconds: 0,
};
