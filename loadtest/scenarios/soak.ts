import type { Scenario } from '../scenario.ts';

/** A steady, moderate rate for a few minutes (short for a lab): latency must not creep up, nothing may leak into errors. */
export const soak: Scenario = {
  name: 'soak',
  intent: 'a steady moderate load for three minutes: no creeping latency, no errors',
  path: '/api/hello',
  headers: { 'x-tracelab-cpu-ms': '5' },
  startRate: 5,
  stages: [{ seconds: 180, rate: 5 }],
  maxConcurrency: 20,
  requestTimeoutSeconds: 10,
  thresholds: { maxErrorRate: 0.01, latencyMs: { p95: 800, p99: 1500 } },
  settleSeconds: 0,
};
