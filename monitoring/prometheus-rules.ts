import { generatedYaml } from './common.ts';

export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}

export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: (RecordingRule | AlertingRule)[];
}

export interface RuleFile {
  groups: RuleGroup[];
}

/** The demo's metric contract (services/*): one histogram labelled service, route, method, status. */
export const requestMetric = 'tracelab_http_request_duration_seconds';

/** Latency SLO: this share of requests completes within the threshold, which must be a bucket bound. */
export const latencySlo = { objective: 0.99, thresholdSeconds: 0.5 } as const;
export const errorRateThreshold = 0.05;

const windows = ['1m', '5m', '30m', '1h', '6h'] as const;
type Window = (typeof windows)[number];

const requests = (window: string): string => `sum by (service) (rate(${requestMetric}_count[${window}]))`;
const errors = (window: string): string => `sum by (service) (rate(${requestMetric}_count{status=~"5.."}[${window}]))`;
const fastRequests = (window: string): string =>
  `sum by (service) (rate(${requestMetric}_bucket{le="${latencySlo.thresholdSeconds}"}[${window}]))`;

export const recordedSeries = {
  requestRate: (w: Window) => `service:tracelab_http_requests:rate${w}`,
  errorRatio: (w: Window) => `service:tracelab_http_errors:ratio_rate${w}`,
  slowRatio: (w: Window) => `service:tracelab_http_slow_requests:ratio_rate${w}`,
  p99: 'service:tracelab_http_request_duration_seconds:p99_1m',
  p50: 'service:tracelab_http_request_duration_seconds:p50_1m',
};

/**
 * RED per service. Error ratios fall back to 0 for services that serve traffic without errors
 * (`or … * 0`), so dashboards show 0 instead of "no data" and burn-rate alerts stay defined.
 */
export function renderRecordingRules(): RuleGroup {
  const rules: RecordingRule[] = [];
  for (const w of windows) {
    rules.push({ record: recordedSeries.requestRate(w), expr: requests(w) });
    rules.push({ record: recordedSeries.errorRatio(w), expr: `(${errors(w)} or ${requests(w)} * 0) / ${requests(w)}` });
    rules.push({ record: recordedSeries.slowRatio(w), expr: `1 - (${fastRequests(w)} / ${requests(w)})` });
  }
  rules.push({ record: recordedSeries.p99, expr: `histogram_quantile(0.99, sum by (service, le) (rate(${requestMetric}_bucket[1m])))` });
  rules.push({ record: recordedSeries.p50, expr: `histogram_quantile(0.50, sum by (service, le) (rate(${requestMetric}_bucket[1m])))` });
  return { name: 'tracelab-red', rules };
}

/** Multi-window burn rates from the Google SRE workbook: page at 14.4x (1h/5m), ticket at 6x (6h/30m). */
function latencyBurnExpr(): string {
  const budget = +(1 - latencySlo.objective).toFixed(6);
  const burn = (long: Window, short: Window, factor: number): string =>
    `(${recordedSeries.slowRatio(long)} > ${factor} * ${budget} and ${recordedSeries.slowRatio(short)} > ${factor} * ${budget})`;
  return `${burn('1h', '5m', 14.4)} or ${burn('6h', '30m', 6)}`;
}

export function renderAlertingRules(): RuleGroup {
  return {
    name: 'tracelab-alerts',
    rules: [
      {
        alert: 'TracelabHighErrorRate',
        expr: `${recordedSeries.errorRatio('5m')} > ${errorRateThreshold}`,
        for: '2m',
        labels: { severity: 'warning' },
        annotations: {
          summary: 'High HTTP error rate on {{ $labels.service }}',
          description: `More than ${errorRateThreshold * 100}% of requests to {{ $labels.service }} failed with 5xx over 5 minutes (now {{ $value | humanizePercentage }}).`,
        },
      },
      {
        alert: 'TracelabLatencySLOBurn',
        expr: latencyBurnExpr(),
        labels: { severity: 'warning' },
        annotations: {
          summary: 'Latency SLO of {{ $labels.service }} is burning fast',
          description: `Requests slower than ${latencySlo.thresholdSeconds}s consume the ${latencySlo.objective * 100}% latency SLO's error budget too fast on {{ $labels.service }}.`,
        },
      },
      {
        // No kube-state-metrics in the lab: a restarted container shows as a changed process start time
        // of the same pod target (a rollout creates new targets and stays silent).
        alert: 'TracelabPodRestarting',
        expr: 'changes(process_start_time_seconds{job="kubernetes-pods"}[15m]) > 0',
        labels: { severity: 'warning' },
        annotations: {
          summary: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} restarted',
          description: 'The process in {{ $labels.namespace }}/{{ $labels.pod }} restarted {{ $value }} time(s) in 15 minutes.',
        },
      },
      {
        alert: 'TracelabNodeDown',
        expr: 'up{job="node-exporter"} == 0',
        for: '2m',
        labels: { severity: 'critical' },
        annotations: {
          summary: 'Node {{ $labels.node }} is down',
          description: 'node-exporter on {{ $labels.node }} has not answered for 2 minutes.',
        },
      },
    ],
  };
}

export const ruleFileNames = { recording: 'tracelab-recording.yaml', alerting: 'tracelab-alerts.yaml' } as const;

/** The rule files by file name, as mounted in /etc/prometheus/rules. */
export function renderRuleFiles(): Record<string, string> {
  return {
    [ruleFileNames.recording]: generatedYaml('monitoring/prometheus-rules.ts', { groups: [renderRecordingRules()] } satisfies RuleFile),
    [ruleFileNames.alerting]: generatedYaml('monitoring/prometheus-rules.ts', { groups: [renderAlertingRules()] } satisfies RuleFile),
  };
}

export function isAlertingRule(rule: RecordingRule | AlertingRule): rule is AlertingRule {
  return 'alert' in rule;
}
