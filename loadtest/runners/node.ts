/**
 * `--runner node`: the scenario from this machine with autocannon. autocannon holds one rate for a
 * run, so the stages become steps: a constant stage is one step, a ramp a staircase of steps of
 * at most `stepSeconds` at the ramp's mean rate over each (the same number of requests as k6's
 * straight line). Every response's latency is kept, so the percentiles are over the whole run.
 */
import autocannon from 'autocannon';
import { InterruptedError, errorMessage } from '../../core/errors.ts';
import type { Scenario } from '../scenario.ts';
import { latencyPercentiles, type Measured } from '../summary.ts';

export interface Step {
  readonly seconds: number;
  /** Requests per second through this step (0: a pause). */
  readonly rate: number;
}

/** The stages as constant-rate steps. */
export function planSteps(scenario: Scenario, stepSeconds = 5): Step[] {
  const steps: Step[] = [];
  const push = (step: Step): void => {
    const last = steps.at(-1);
    if (last !== undefined && last.rate === step.rate) steps[steps.length - 1] = { seconds: last.seconds + step.seconds, rate: step.rate };
    else steps.push(step);
  };
  let from = scenario.startRate;
  for (const stage of scenario.stages) {
    if (from === stage.rate) {
      push({ seconds: stage.seconds, rate: stage.rate });
    } else {
      const parts = Math.ceil(stage.seconds / stepSeconds);
      let done = 0;
      for (let part = 0; part < parts; part++) {
        const seconds = Math.min(stepSeconds, stage.seconds - done);
        // The line's value halfway through this step is its mean over the step.
        const middle = (done + seconds / 2) / stage.seconds;
        push({ seconds, rate: Math.round(from + (stage.rate - from) * middle) });
        done += seconds;
      }
    }
    from = stage.rate;
  }
  return steps;
}

export interface NodeRunOptions {
  readonly signal: AbortSignal;
  /** One line per step as it starts. */
  readonly onStep?: (line: string) => void;
}

/** Runs the scenario against `origin` (e.g. http://127.0.0.1:PORT, a port-forward to frontend). */
export async function runNodeLoad(scenario: Scenario, origin: string, options: NodeRunOptions): Promise<Measured> {
  const latencies: number[] = [];
  let requests = 0;
  let failed = 0;
  let dropped = 0;
  const aborted = (): boolean => options.signal.aborted;
  const url = `${origin.replace(/\/+$/, '')}${scenario.path}`;
  const steps = planSteps(scenario);
  let elapsed = 0;
  for (const step of steps) {
    if (aborted()) break;
    options.onStep?.(`  ${String(elapsed).padStart(4)} s  ${String(step.rate).padStart(3)} requests/s for ${String(step.seconds)} s`);
    elapsed += step.seconds;
    if (step.rate === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, step.seconds * 1000);
        options.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
      });
      continue;
    }
    let sent = 0;
    const connections = Math.min(scenario.maxConcurrency, step.rate);
    await new Promise<void>((resolve, reject) => {
      const instance = autocannon(
        {
          url,
          headers: { ...scenario.headers },
          connections,
          overallRate: step.rate,
          duration: step.seconds,
          timeout: scenario.requestTimeoutSeconds,
        },
        (err: unknown) => {
          options.signal.removeEventListener('abort', stop);
          if (err) reject(err instanceof Error ? err : new Error(errorMessage(err)));
          else resolve();
        },
      );
      const stop = (): void => {
        instance.stop();
      };
      options.signal.addEventListener('abort', stop, { once: true });
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        sent++;
        requests++;
        latencies.push(responseTime);
        if (statusCode >= 400) failed++;
      });
      instance.on('reqError', () => {
        sent++;
        requests++;
        failed++;
      });
    });
    // A closed loop sends less than asked when answers are slower than its connections allow; the
    // requests still in flight when a step ends (one per connection at most) are not counted.
    if (!aborted()) dropped += Math.max(0, step.rate * step.seconds - sent - connections);
  }
  const measured: Measured = { requests, failed, dropped, latencyMs: latencyPercentiles(latencies) };
  if (aborted()) throw new InterruptedNodeRun(measured);
  return measured;
}

/** Ctrl-C during a node run: what was measured until then. */
export class InterruptedNodeRun extends InterruptedError {
  readonly measured: Measured;

  constructor(measured: Measured) {
    super(`stopped: the load ended early after ${String(measured.requests)} requests; thresholds not judged`);
    this.name = 'InterruptedNodeRun';
    this.measured = measured;
  }
}
