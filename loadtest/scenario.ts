/**
 * A load scenario as data: what to request, how the arrival rate changes over time, and what the
 * run must meet. Both runners read it (the k6 Job and the node runner); nothing here touches the
 * world, so the k6 script's type check (loadtest/k6/tsconfig.json) reads it too.
 */

/** Latency percentiles every summary reports and a threshold may bound. */
export const percentiles = ['p50', 'p90', 'p95', 'p99'] as const;
export type Percentile = (typeof percentiles)[number];

/** Over `seconds`, the arrival rate moves in a straight line from where it is to `rate` requests per second (k6's ramping-arrival-rate). */
export interface Stage {
  readonly seconds: number;
  readonly rate: number;
}

export interface Thresholds {
  /** Failed requests (a status of 400 or more, or no answer) over all requests: at most this share. */
  readonly maxErrorRate: number;
  /** Latency percentiles that must stay below these milliseconds. */
  readonly latencyMs: Readonly<Partial<Record<Percentile, number>>>;
}

export interface Scenario {
  /** Named for its intent: smoke, ramp, spike, soak. */
  readonly name: string;
  /** One line for `tracelab loadtest --help` and the run's first line. */
  readonly intent: string;
  /** Path requested on the frontend. */
  readonly path: string;
  /** Sent with every request: the backend's per-request knobs (x-tracelab-cpu-ms …) make the load cost what the scenario needs. */
  readonly headers: Readonly<Record<string, string>>;
  /** Requests per second when the first stage begins. */
  readonly startRate: number;
  readonly stages: readonly Stage[];
  /** Requests in flight at most (k6's maxVUs, the node runner's connections): past it, arrivals are dropped, not queued. */
  readonly maxConcurrency: number;
  /** A request that takes longer fails. */
  readonly requestTimeoutSeconds: number;
  readonly thresholds: Thresholds;
  /**
   * After the load, the timeline keeps sampling until every autoscaler is back at its minimum,
   * for at most this long (0: stop with the load).
   */
  readonly settleSeconds: number;
}

/** Seconds of load (the settle phase not included). */
export function loadSeconds(scenario: Scenario): number {
  return scenario.stages.reduce((sum, stage) => sum + stage.seconds, 0);
}

/** Requests the stages ask for: the area under the rate line. */
export function plannedRequests(scenario: Scenario): number {
  let rate = scenario.startRate;
  let total = 0;
  for (const stage of scenario.stages) {
    total += ((rate + stage.rate) / 2) * stage.seconds;
    rate = stage.rate;
  }
  return total;
}

const headerName = /^[a-z0-9-]+$/;

/** What is wrong with a scenario, one phrase each (empty: nothing). */
export function scenarioProblems(scenario: Scenario): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };
  const wholeAtLeast = (value: number, min: number): boolean => Number.isInteger(value) && value >= min;
  check(/^[a-z][a-z0-9-]{0,30}$/.test(scenario.name), `name '${scenario.name}' must be lowercase letters, digits and '-' (a Job name is made of it)`);
  check(scenario.intent.trim() !== '', 'intent is empty: say in one line what the scenario is for');
  check(/^\/[\w\-./]*$/.test(scenario.path), `path '${scenario.path}' must start with '/'`);
  for (const name of Object.keys(scenario.headers)) check(headerName.test(name), `header '${name}' must be a lowercase header name`);
  check(wholeAtLeast(scenario.startRate, 0), `startRate ${scenario.startRate} must be a whole number of requests per second, 0 or more`);
  check(scenario.stages.length > 0, 'stages is empty: a scenario needs at least one stage');
  scenario.stages.forEach((stage, index) => {
    check(wholeAtLeast(stage.seconds, 1), `stage ${index + 1}: seconds ${stage.seconds} must be a whole number, 1 or more`);
    check(wholeAtLeast(stage.rate, 0), `stage ${index + 1}: rate ${stage.rate} must be a whole number of requests per second, 0 or more`);
  });
  check(scenario.stages.length === 0 || scenario.startRate > 0 || scenario.stages.some((stage) => stage.rate > 0), 'every stage has rate 0: the scenario would send nothing');
  check(wholeAtLeast(scenario.maxConcurrency, 1) && scenario.maxConcurrency <= 1000, `maxConcurrency ${scenario.maxConcurrency} must be a whole number from 1 to 1000`);
  check(wholeAtLeast(scenario.requestTimeoutSeconds, 1) && scenario.requestTimeoutSeconds <= 120, `requestTimeoutSeconds ${scenario.requestTimeoutSeconds} must be a whole number from 1 to 120`);
  const { maxErrorRate, latencyMs } = scenario.thresholds;
  check(Number.isFinite(maxErrorRate) && maxErrorRate >= 0 && maxErrorRate <= 1, `thresholds.maxErrorRate ${maxErrorRate} must be a share from 0 to 1`);
  for (const [percentile, limit] of Object.entries(latencyMs)) {
    check((percentiles as readonly string[]).includes(percentile), `thresholds.latencyMs.${percentile} is not one of ${percentiles.join(', ')}`);
    check(Number.isFinite(limit) && limit > 0, `thresholds.latencyMs.${percentile} ${String(limit)} must be a number of milliseconds above 0`);
  }
  check(wholeAtLeast(scenario.settleSeconds, 0) && scenario.settleSeconds <= 1800, `settleSeconds ${scenario.settleSeconds} must be a whole number from 0 to 1800`);
  return problems;
}
