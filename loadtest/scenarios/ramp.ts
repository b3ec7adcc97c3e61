import type { Scenario } from '../scenario.ts';

/**
 * Drives the autoscalers up and back down. Every request asks backend to burn 25 ms of CPU
 * (its x-tracelab-cpu-ms knob, forwarded by frontend): 8 requests/s is ~200m of CPU, four
 * times what two backend pods request (50m each) against a 70 % target, so backend's
 * HorizontalPodAutoscaler scales up within a minute of the plateau; after the load the timeline
 * waits for it to return to its minimum (the demo's lab scale-down window is 60 s).
 */
export const ramp: Scenario = {
  name: 'ramp',
  intent: 'ramps CPU-heavy requests up, holds, ramps down: backend autoscales up and back down',
  path: '/api/hello',
  headers: { 'x-tracelab-cpu-ms': '25' },
  startRate: 1,
  stages: [
    { seconds: 30, rate: 8 }, // ramp up
    { seconds: 60, rate: 8 }, // plateau: the autoscaler sees the CPU and adds pods
    { seconds: 20, rate: 1 }, // ramp down
  ],
  maxConcurrency: 40,
  requestTimeoutSeconds: 10,
  thresholds: { maxErrorRate: 0.01, latencyMs: { p95: 1500, p99: 3000 } },
  settleSeconds: 300,
};
