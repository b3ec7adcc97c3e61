/**
 * The k6 script of `tracelab loadtest --runner k6`. Shipped to the k6 Job's ConfigMap with its
 * types stripped (loadtest/runners/k6.ts), next to config.json (loadtest/runners/k6-config.ts),
 * which says what to request and carries k6's options. Type-checked against @types/k6 by
 * loadtest/k6/tsconfig.json; only type imports from tracelab, which the stripping removes.
 */
import http from 'k6/http';
import type { Options } from 'k6/options';
import type { K6Config } from '../runners/k6-config.ts';
import type { Measured } from '../summary.ts';

const config = JSON.parse(open('./config.json')) as K6Config;

export const options: Options = config.options;

const params = { headers: { ...config.headers }, timeout: config.timeout };

export default function (): void {
  http.get(config.url, params);
}

/** The part of k6's end-of-test data this script reads (@types/k6 does not declare it). */
interface SummaryData {
  readonly metrics: Readonly<Record<string, { readonly values: Readonly<Record<string, number | undefined>> } | undefined>>;
}

/** One line on stdout instead of k6's text summary: tracelab prints the common summary from it. */
export function handleSummary(data: SummaryData): Record<string, string> {
  const value = (metric: string, stat: string): number => data.metrics[metric]?.values[stat] ?? 0;
  const measured: Measured = {
    requests: value('http_reqs', 'count'),
    // A Rate metric counts its true values as passes: here, failed requests.
    failed: value('http_req_failed', 'passes'),
    dropped: value('dropped_iterations', 'count'),
    latencyMs: {
      p50: value('http_req_duration', 'p(50)'),
      p90: value('http_req_duration', 'p(90)'),
      p95: value('http_req_duration', 'p(95)'),
      p99: value('http_req_duration', 'p(99)'),
    },
  };
  return { stdout: `${config.summaryMarker}${JSON.stringify(measured)}\n` };
}
