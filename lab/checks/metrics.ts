import { failed, getJson, passed, sleep, type CheckResult, type Source } from './check.ts';

/** The services' RED histogram (services/common/src/metrics.ts): count by status = rate and errors, buckets = duration. */
export const requestMetric = 'tracelab_http_request_duration_seconds';

interface PromAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** An instant query; a Prometheus error or an unreachable Prometheus throws one line. */
export async function instantQuery(prometheus: string, promql: string): Promise<Series[]> {
  const answer = await getJson('Prometheus', `${prometheus}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`);
  const { status } = answer;
  const body = answer.body as PromAnswer | undefined;
  if (body?.status !== 'success' || body.data === undefined) throw new Error(`Prometheus rejected '${promql}': ${body?.error ?? `HTTP ${status}`}`);
  return body.data.result.map((sample) => ({ labels: sample.metric, value: Number(sample.value[1]) }));
}

export const metricsTitle = "both services' RED metrics in Prometheus";

/**
 * For each service, the request count by status and the duration buckets are in Prometheus
 * (waiting for the next scrape up to waitMs). `selector` narrows to the lab's series, e.g.
 * `namespace="tracelab-demo"`.
 */
export async function checkRedMetrics(
  prometheus: Source,
  options: { services: readonly string[]; selector: string; waitMs: number; diagnose?: () => Promise<string | undefined> },
): Promise<CheckResult> {
  if ('unavailable' in prometheus) return failed('metrics', metricsTitle, prometheus.unavailable);
  const matchers = (service: string): string => [`service="${service}"`, options.selector].filter((part) => part !== '').join(',');
  const deadline = Date.now() + options.waitMs;
  const seen = new Map<string, string>();
  const missing = new Map<string, string>();
  for (;;) {
    for (const service of options.services.filter((name) => !seen.has(name))) {
      let byStatus: Series[];
      let buckets: Series[];
      try {
        byStatus = await instantQuery(prometheus.url, `sum by (status) (${requestMetric}_count{${matchers(service)}})`);
        buckets = await instantQuery(prometheus.url, `count(${requestMetric}_bucket{${matchers(service)}})`);
      } catch (err) {
        const why = await options.diagnose?.().catch(() => undefined);
        return failed('metrics', metricsTitle, `${err instanceof Error ? err.message : String(err)}${why === undefined ? '' : ` — ${why}`}`);
      }
      if (byStatus.length === 0) missing.set(service, `no ${requestMetric}_count{${matchers(service)}} (is ${service} scraped?)`);
      else if (buckets.length === 0) missing.set(service, `no ${requestMetric}_bucket{${matchers(service)}}: durations missing`);
      else {
        const total = byStatus.reduce((sum, series) => sum + series.value, 0);
        const statuses = byStatus.map((series) => `${series.labels.status ?? '?'}: ${Math.round(series.value)}`).join(', ');
        seen.set(service, `${service} ${Math.round(total)} requests (${statuses})`);
        missing.delete(service);
      }
    }
    if (missing.size === 0 || Date.now() >= deadline) break;
    await sleep(2_000);
  }
  if (missing.size === 0) return passed('metrics', metricsTitle, [...seen.values()].join('; '));
  return failed('metrics', metricsTitle, `after ${Math.round(options.waitMs / 1000)} s: ${[...missing.values()].join('; ')}`);
}
