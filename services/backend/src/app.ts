import { setTimeout as sleep } from 'node:timers/promises';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { Request } from 'express';
import { ConfigError, commonSchema, currentTraceId, milliseconds, rate, sendJson } from '@tracelab/service-kit';
import type { ConfigOf, Field, Service } from '@tracelab/service-kit';

export const backendSchema = {
  ...commonSchema,
  BACKEND_LATENCY_MS: milliseconds(0, 60_000),
  BACKEND_CPU_MS: milliseconds(0, 10_000),
  BACKEND_ERROR_RATE: rate(0),
};
export type BackendConfig = ConfigOf<typeof backendSchema>;

export interface Knobs {
  latencyMs: number;
  cpuMs: number;
  errorRate: number;
}

/** Per-request overrides, so fault, latency and autoscaling demos need no redeploy. */
const knobHeaders: Record<keyof Knobs, [header: string, field: Field<number>]> = {
  latencyMs: ['x-tracelab-latency-ms', milliseconds(0, 60_000)],
  cpuMs: ['x-tracelab-cpu-ms', milliseconds(0, 10_000)],
  errorRate: ['x-tracelab-error-rate', rate(0)],
};

export function knobsFor(request: Request, defaults: Knobs): Knobs {
  const knobs = { ...defaults };
  for (const [knob, [header, field]] of Object.entries(knobHeaders) as [keyof Knobs, [string, Field<number>]][]) {
    const raw = request.headers[header];
    if (typeof raw === 'string' && raw !== '') knobs[knob] = field(header, raw);
  }
  return knobs;
}

/** Keeps one core busy for `ms`, the way a real computation would (autoscaling demos need CPU). */
function burnCpu(ms: number): number {
  const until = performance.now() + ms;
  let iterations = 0;
  while (performance.now() < until) iterations++;
  return iterations;
}

class InjectedFailure extends Error {}

const tracer = trace.getTracer('tracelab-backend');

function inSpan<T>(name: string, work: (span: Span) => Promise<T> | T): Promise<T> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export function mountBackendRoutes(service: Service, config: BackendConfig): void {
  const defaults: Knobs = {
    latencyMs: config.BACKEND_LATENCY_MS,
    cpuMs: config.BACKEND_CPU_MS,
    errorRate: config.BACKEND_ERROR_RATE,
  };

  service.app.get('/api/work', async (request, response) => {
    let knobs: Knobs;
    try {
      knobs = knobsFor(request, defaults);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      sendJson(response, 400, { error: err.message, traceId: currentTraceId() });
      return;
    }
    try {
      const record = await inSpan('lookup', async (span) => {
        span.setAttribute('tracelab.latency_ms', knobs.latencyMs);
        if (knobs.latencyMs > 0) await sleep(knobs.latencyMs);
        return { id: Math.floor(Math.random() * 1000), source: 'simulated-store' };
      });
      const computed = await inSpan('compute', (span) => {
        span.setAttribute('tracelab.cpu_ms', knobs.cpuMs);
        const iterations = knobs.cpuMs > 0 ? burnCpu(knobs.cpuMs) : 0;
        if (knobs.errorRate > 0 && Math.random() < knobs.errorRate) {
          throw new InjectedFailure(`injected failure (error rate ${knobs.errorRate})`);
        }
        return { iterations };
      });
      sendJson(response, 200, { service: 'backend', pod: config.POD_NAME ?? null, record, computed, knobs, traceId: currentTraceId() });
    } catch (err) {
      if (!(err instanceof InjectedFailure)) throw err;
      sendJson(response, 500, { error: err.message, traceId: currentTraceId() });
    }
  });
}
