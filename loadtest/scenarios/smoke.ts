import type { Scenario } from '../scenario.ts';

/** A few requests a second for a short while: the chain answers, fast, without errors. */
export const smoke: Scenario = {
  name: 'smoke',
  intent: 'a light, short load: the demo answers without errors and quickly',
  path: '/api/hello',
  headers: {},
  startRate: 5,
  stages: [{ seconds: 10, rate: 5 }],
  maxConcurrency: 10,
  requestTimeoutSeconds: 10,
  thresholds: { maxErrorRate: 0.01, latencyMs: { p95: 500, p99: 1000 } },
  settleSeconds: 0,
};
