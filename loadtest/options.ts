import { UserError, exitCodes } from '../core/errors.ts';
import { scenarioProblems, type Scenario } from './scenario.ts';
import { scenarios } from './scenarios/index.ts';

/** The flags of `tracelab loadtest`, checked before anything runs (loaded without client-node or autocannon). */

/** Exit code of a run whose thresholds failed: a check failed, as with `verify` (README, exit codes). */
export const thresholdsFailedExitCode = exitCodes.checksFailed;

export const runnerNames = ['k6', 'node'] as const;
export type RunnerName = (typeof runnerNames)[number];

export interface LoadtestSettings {
  readonly scenario: Scenario;
  readonly runner: RunnerName;
  /** The demo's namespace: frontend's Service, the autoscalers, the k6 Job. */
  readonly namespace: string;
  /** Send the load here instead of to the frontend Service (node: from this machine; k6: from the pod). */
  readonly target: string | undefined;
  readonly timeline: boolean;
  readonly sampleEveryMs: number;
  readonly k6Image: string;
}

/** The scenario by name, checked; a name it does not know is bad input. */
export function findScenario(name: string | undefined): Scenario {
  if (name === undefined) throw new UserError(`name a scenario: tracelab loadtest runs ${scenarios.map((s) => s.name).join(', ')} (e.g. npm run loadtest -- smoke)`);
  const scenario = scenarios.find((candidate) => candidate.name === name);
  if (scenario === undefined) throw new UserError(`unknown scenario '${name}' — tracelab loadtest runs ${scenarios.map((s) => s.name).join(', ')}`);
  const problems = scenarioProblems(scenario);
  if (problems.length > 0) throw new Error(`scenario ${name} is not valid (loadtest/scenarios/${name}.ts): ${problems.join('; ')}`);
  return scenario;
}

export function parseRunner(name: string): RunnerName {
  if (!(runnerNames as readonly string[]).includes(name)) throw new UserError(`--runner '${name}' is not a runner tracelab has: pass --runner k6 (a Job in the cluster) or --runner node (from this machine)`);
  return name as RunnerName;
}

export function parseTarget(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError(`--target '${text}' is not a URL — e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`--target '${text}' must be an http:// or https:// URL`);
  return url.origin;
}

