import { isTransient } from './errors.ts';

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  readonly attempts: number;
  /** No new attempt starts after this much time since the first. */
  readonly maxElapsedMs: number;
  /** Delay before the second attempt; doubles each time, with full jitter. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, maxElapsedMs: 30_000, baseDelayMs: 500, maxDelayMs: 8_000 };

export interface RetryHooks {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
  onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
}

/** Thrown when transient errors outlasted the policy; `cause` is the last error. */
export class RetriesExhaustedError extends Error {
  readonly attempts: number;
  readonly elapsedMs: number;

  constructor(attempts: number, elapsedMs: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${reason} (gave up after ${attempts} attempts in ${(elapsedMs / 1000).toFixed(1)}s)`, { cause });
    this.name = 'RetriesExhaustedError';
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }
}

/** Exponential backoff with full jitter, capped: attempt 1 waits up to base, attempt 2 up to 2×base, … */
export function backoffDelay(policy: RetryPolicy, retryNumber: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retryNumber - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Runs `work`, retrying transient API errors (unreachable, 429, 5xx) within the policy's bounds;
 * any other error is rethrown at once.
 */
export async function withRetry<T>(work: () => Promise<T>, policy: RetryPolicy = defaultRetryPolicy, hooks: RetryHooks = {}): Promise<T> {
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = hooks.random ?? Math.random;
  const now = hooks.now ?? Date.now;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!isTransient(err)) throw err;
      const delay = backoffDelay(policy, attempt, random);
      const elapsed = now() - started;
      if (attempt >= policy.attempts || elapsed + delay > policy.maxElapsedMs) {
        throw new RetriesExhaustedError(attempt, elapsed, err);
      }
      hooks.onRetry?.(attempt, delay, err);
      await sleep(delay);
    }
  }
}
