import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request } from 'express';
import { ConfigError } from '../../../services/common/src/config.ts';
import { knobsFor } from '../../../services/backend/src/app.ts';

const defaults = { latencyMs: 10, cpuMs: 0, errorRate: 0 };
const withHeaders = (headers: Record<string, string>): Request => ({ headers }) as unknown as Request;

describe('knobsFor()', () => {
  it('keeps the env defaults without headers', () => {
    assert.deepEqual(knobsFor(withHeaders({}), defaults), defaults);
  });

  it('lets x-tracelab-* headers override each knob', () => {
    const knobs = knobsFor(withHeaders({ 'x-tracelab-latency-ms': '250', 'x-tracelab-cpu-ms': '20', 'x-tracelab-error-rate': '0.5' }), defaults);
    assert.deepEqual(knobs, { latencyMs: 250, cpuMs: 20, errorRate: 0.5 });
  });

  it('rejects a bad header value naming the header', () => {
    assert.throws(() => knobsFor(withHeaders({ 'x-tracelab-cpu-ms': 'lots' }), defaults), (err: unknown) =>
      err instanceof ConfigError && err.message === 'invalid x-tracelab-cpu-ms="lots": expected a whole number of milliseconds 0-10000');
  });
});
