import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LabelValues, OpenMetricsContentType } from 'prom-client';

export type RequestLabel = 'route' | 'method' | 'status';

export interface ServiceMetrics {
  readonly registry: Registry<OpenMetricsContentType>;
  /** RED: rate and errors from the count by status, duration from the buckets. */
  readonly requestDuration: Histogram<RequestLabel>;
  readonly requestsInFlight: Gauge;
}

/** Seconds; from a cache hit to a slow backend behind retries. */
const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** Keeps the `method` label bounded: arbitrary verbs from the wire collapse into OTHER. */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && knownMethods.has(method) ? method : 'OTHER';
}

/** Scraped as OpenMetrics so exemplars (`# {trace_id="…"}`) reach Prometheus. */
export function createServiceMetrics(service: string, inFlight: () => number = () => 0): ServiceMetrics {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const requestDuration = new Histogram<RequestLabel>({
    name: 'tracelab_http_request_duration_seconds',
    help: 'HTTP server requests by route pattern, method and status code',
    labelNames: ['route', 'method', 'status'],
    buckets: durationBuckets,
    enableExemplars: true,
    registers: [registry],
  });
  // Read at scrape time instead of inc()/dec() per request: no label hashing on the hot path.
  const requestsInFlight = new Gauge({
    name: 'tracelab_http_requests_in_flight',
    help: 'HTTP server requests being handled now',
    registers: [registry],
    collect() {
      this.set(inFlight());
    },
  });
  return { registry, requestDuration, requestsInFlight };
}

export function observeRequest(
  metrics: ServiceMetrics,
  labels: LabelValues<RequestLabel>,
  seconds: number,
  traceId: string | undefined,
): void {
  // With exemplars enabled prom-client only takes the object form, with or without an exemplar.
  if (traceId === undefined) {
    metrics.requestDuration.observe({ labels, value: seconds });
    return;
  }
  // prom-client types exemplar labels like metric labels; OpenMetrics allows any names.
  const exemplarLabels = { trace_id: traceId } as unknown as LabelValues<RequestLabel>;
  metrics.requestDuration.observe({ labels, value: seconds, exemplarLabels });
}
