/**
 * What the k6 script reads from its ConfigMap (config.json): the request, k6's options made from
 * the scenario, and the marker that tags its summary line. Pure and free of Node: the k6 script's
 * type check (loadtest/k6/tsconfig.json) reads this file and holds `K6Options` to @types/k6's
 * `Options`, so a field k6 does not know, or of the wrong type, fails `npm run typecheck`.
 */
import { percentiles, type Scenario } from '../scenario.ts';

/** The subset of k6's options tracelab sets (mutable arrays: @types/k6 declares them so). */
export interface K6Options {
  scenarios: Record<
    string,
    {
      executor: 'ramping-arrival-rate';
      startRate: number;
      timeUnit: string;
      preAllocatedVUs: number;
      maxVUs: number;
      stages: { duration: string; target: number }[];
      gracefulStop: string;
    }
  >;
  thresholds: Record<string, string[]>;
  summaryTrendStats: string[];
  discardResponseBodies: boolean;
}

export interface K6Config {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** k6's per-request timeout, e.g. `10s`. */
  readonly timeout: string;
  readonly options: K6Options;
  /** Starts the one stdout line handleSummary prints: the rest of the line is `Measured` as JSON. */
  readonly summaryMarker: string;
}

export const summaryMarker = 'TRACELAB_SUMMARY ';

/** grafana/k6 2.3.0 by its multi-platform index digest: the version @types/k6 2.3 describes. */
export const k6Image = 'docker.io/grafana/k6:2.3.0@sha256:9c2dee7f8ed74d317e4027c06a10f169b625638189de8d4555d0b3486a5aeb34';

/** The scenario as k6 options: one ramping-arrival-rate scenario, the thresholds in k6's words. */
export function k6Options(scenario: Scenario): K6Options {
  const thresholds: Record<string, string[]> = { http_req_failed: [`rate<=${String(scenario.thresholds.maxErrorRate)}`] };
  const latency = percentiles.flatMap((p) => {
    const limit = scenario.thresholds.latencyMs[p];
    return limit === undefined ? [] : [`p(${p.slice(1)})<${String(limit)}`];
  });
  if (latency.length > 0) thresholds.http_req_duration = latency;
  return {
    scenarios: {
      [scenario.name]: {
        executor: 'ramping-arrival-rate',
        startRate: scenario.startRate,
        timeUnit: '1s',
        preAllocatedVUs: Math.min(scenario.maxConcurrency, Math.max(1, ...scenario.stages.map((stage) => stage.rate))),
        maxVUs: scenario.maxConcurrency,
        stages: scenario.stages.map((stage) => ({ duration: `${String(stage.seconds)}s`, target: stage.rate })),
        gracefulStop: `${String(scenario.requestTimeoutSeconds)}s`,
      },
    },
    thresholds,
    summaryTrendStats: ['avg', 'min', 'max', ...percentiles.map((p) => `p(${p.slice(1)})`)],
    discardResponseBodies: true,
  };
}

/** `origin`: where the frontend answers from inside the cluster, e.g. http://frontend:8080. */
export function k6Config(scenario: Scenario, origin: string): K6Config {
  return {
    url: `${origin.replace(/\/+$/, '')}${scenario.path}`,
    headers: scenario.headers,
    timeout: `${String(scenario.requestTimeoutSeconds)}s`,
    options: k6Options(scenario),
    summaryMarker,
  };
}
