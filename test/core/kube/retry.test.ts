import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError, KubeUnreachableError } from '../../../core/kube/errors.ts';
import { RetriesExhaustedError, backoffDelay, withRetry, type RetryPolicy } from '../../../core/kube/retry.ts';

const policy: RetryPolicy = { attempts: 4, maxElapsedMs: 10_000, baseDelayMs: 100, maxDelayMs: 1_000 };
const apiError = (status: number) => new KubeApiError({ status, reason: 'X', message: `status ${status}`, method: 'GET', path: '/' });

function fakeClock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    hooks: {
      now: () => now,
      random: () => 1,
      sleep: (ms: number) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    },
  };
}

describe('withRetry()', () => {
  for (const [what, error] of [
    ['connection refused', new KubeUnreachableError('https://127.0.0.1:1', 'ECONNREFUSED', 'connect ECONNREFUSED')],
    ['429', apiError(429)],
    ['503', apiError(503)],
  ] as const) {
    it(`retries ${what} and succeeds when the API recovers`, async () => {
      const clock = fakeClock();
      let calls = 0;
      const result = await withRetry(
        () => {
          calls++;
          return calls < 3 ? Promise.reject(error) : Promise.resolve('ok');
        },
        policy,
        clock.hooks,
      );
      assert.equal(result, 'ok');
      assert.deepEqual(clock.sleeps, [100, 200]);
    });
  }

  for (const status of [400, 403, 404, 409, 422]) {
    it(`stops at once on ${status}`, async () => {
      let calls = 0;
      await assert.rejects(
        withRetry(() => {
          calls++;
          return Promise.reject(apiError(status));
        }, policy),
        (err: unknown) => err instanceof KubeApiError && err.status === status,
      );
      assert.equal(calls, 1);
    });
  }

  it('stops at once on a 500 that is a schema error of a server-side apply', async () => {
    let calls = 0;
    const schema = new KubeApiError({ status: 500, reason: 'InternalError', message: 'failed to create typed patch object (ns/x; /v1, Kind=Service): .spec.colour: field not declared in schema', method: 'PATCH', path: '/' });
    await assert.rejects(
      withRetry(() => {
        calls++;
        return Promise.reject(schema);
      }, policy),
      KubeApiError,
    );
    assert.equal(calls, 1);
  });

  it('gives up after the attempt bound, keeping the last error as cause', async () => {
    const clock = fakeClock();
    const err = await withRetry(() => Promise.reject(apiError(503)), policy, clock.hooks).catch((e: unknown) => e);
    assert.ok(err instanceof RetriesExhaustedError);
    assert.equal(err.attempts, 4);
    assert.match(err.message, /status 503 \(gave up after 4 attempts in 0\.7s\)/);
    assert.deepEqual(clock.sleeps, [100, 200, 400]);
  });

  it('gives up before the elapsed-time bound', async () => {
    const clock = fakeClock();
    const err = await withRetry(() => Promise.reject(apiError(500)), { ...policy, attempts: 100, maxElapsedMs: 1_000 }, clock.hooks).catch((e: unknown) => e);
    assert.ok(err instanceof RetriesExhaustedError);
    assert.ok(clock.sleeps.reduce((a, b) => a + b, 0) <= 1_000);
  });
});

describe('backoffDelay()', () => {
  it('doubles up to the cap, with jitter in the upper half', () => {
    assert.equal(backoffDelay(policy, 1, () => 0), 50);
    assert.equal(backoffDelay(policy, 1, () => 1), 100);
    assert.equal(backoffDelay(policy, 3, () => 1), 400);
    assert.equal(backoffDelay(policy, 10, () => 1), 1_000);
  });
});
