import { generatedYaml } from './common.ts';
import { errorRateThreshold, latencySlo, requestMetric, ruleFileNames } from './prometheus-rules.ts';

/**
 * `promtool test rules` unit tests for the alerting rules, typed so they follow the rules they test.
 * Each case has a service (or node, or pod) that must alert and one that must stay silent.
 */
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: { exp_labels: Record<string, string>; exp_annotations: Record<string, string> }[];
}

interface RulesTestCase {
  name: string;
  interval: string;
  input_series: { series: string; values: string }[];
  alert_rule_test: AlertTest[];
}

export interface RulesTestFile {
  rule_files: string[];
  evaluation_interval: string;
  tests: RulesTestCase[];
}

const series = (name: string, labels: Record<string, string>): string =>
  `${name}{${Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',')}}`;

const requestLabels = (service: string, status: string) => ({ service, route: '/api/work', method: 'GET', status });

function highErrorRate(): RulesTestCase {
  return {
    name: 'TracelabHighErrorRate fires at 10% errors and stays silent at 1%',
    interval: '1m',
    input_series: [
      { series: series(`${requestMetric}_count`, requestLabels('backend', '200')), values: '0+540x30' },
      { series: series(`${requestMetric}_count`, requestLabels('backend', '500')), values: '0+60x30' },
      { series: series(`${requestMetric}_count`, requestLabels('frontend', '200')), values: '0+594x30' },
      { series: series(`${requestMetric}_count`, requestLabels('frontend', '503')), values: '0+6x30' },
    ],
    alert_rule_test: [
      // The ratio exceeds the threshold from minute 1 on, but `for: 2m` keeps it pending at 2m.
      { eval_time: '2m', alertname: 'TracelabHighErrorRate', exp_alerts: [] },
      {
        eval_time: '10m',
        alertname: 'TracelabHighErrorRate',
        exp_alerts: [
          {
            exp_labels: { severity: 'warning', service: 'backend' },
            exp_annotations: {
              summary: 'High HTTP error rate on backend',
              description: `More than ${errorRateThreshold * 100}% of requests to backend failed with 5xx over 5 minutes (now 10%).`,
            },
          },
        ],
      },
    ],
  };
}

function latencySloBurn(): RulesTestCase {
  const bucket = (service: string) => series(`${requestMetric}_bucket`, { ...requestLabels(service, '200'), le: String(latencySlo.thresholdSeconds) });
  const count = (service: string) => series(`${requestMetric}_count`, requestLabels(service, '200'));
  return {
    name: 'TracelabLatencySLOBurn fires when 20% of requests are slow and stays silent at 0.5%',
    interval: '1m',
    input_series: [
      { series: bucket('backend'), values: '0+480x90' },
      { series: count('backend'), values: '0+600x90' },
      { series: bucket('frontend'), values: '0+597x90' },
      { series: count('frontend'), values: '0+600x90' },
    ],
    alert_rule_test: [
      {
        eval_time: '70m',
        alertname: 'TracelabLatencySLOBurn',
        exp_alerts: [
          {
            exp_labels: { severity: 'warning', service: 'backend' },
            exp_annotations: {
              summary: 'Latency SLO of backend is burning fast',
              description: `Requests slower than ${latencySlo.thresholdSeconds}s consume the ${latencySlo.objective * 100}% latency SLO's error budget too fast on backend.`,
            },
          },
        ],
      },
    ],
  };
}

function podRestarting(): RulesTestCase {
  const restarted = { job: 'kubernetes-pods', namespace: 'tracelab-demo', pod: 'backend-7d9f-abcde' };
  const steady = { job: 'kubernetes-pods', namespace: 'tracelab-demo', pod: 'frontend-5c8b-fghij' };
  return {
    name: 'TracelabPodRestarting fires after a process restart and clears 15 minutes later',
    interval: '1m',
    input_series: [
      { series: series('process_start_time_seconds', restarted), values: '1000x10 1660x20' },
      { series: series('process_start_time_seconds', steady), values: '1000x30' },
    ],
    alert_rule_test: [
      { eval_time: '5m', alertname: 'TracelabPodRestarting', exp_alerts: [] },
      {
        eval_time: '15m',
        alertname: 'TracelabPodRestarting',
        exp_alerts: [
          {
            exp_labels: { severity: 'warning', ...restarted },
            exp_annotations: {
              summary: `Pod tracelab-demo/${restarted.pod} restarted`,
              description: `The process in tracelab-demo/${restarted.pod} restarted 1 time(s) in 15 minutes.`,
            },
          },
        ],
      },
      { eval_time: '30m', alertname: 'TracelabPodRestarting', exp_alerts: [] },
    ],
  };
}

function nodeDown(): RulesTestCase {
  const down = { job: 'node-exporter', node: 'worker-1', instance: '10.0.0.12:9100' };
  const healthy = { job: 'node-exporter', node: 'control-plane', instance: '10.0.0.11:9100' };
  return {
    name: 'TracelabNodeDown fires after 2 minutes without node-exporter',
    interval: '1m',
    input_series: [
      { series: series('up', down), values: '1x5 0x10' },
      { series: series('up', healthy), values: '1x15' },
    ],
    alert_rule_test: [
      { eval_time: '7m', alertname: 'TracelabNodeDown', exp_alerts: [] },
      {
        eval_time: '10m',
        alertname: 'TracelabNodeDown',
        exp_alerts: [
          {
            exp_labels: { severity: 'critical', ...down },
            exp_annotations: { summary: 'Node worker-1 is down', description: 'node-exporter on worker-1 has not answered for 2 minutes.' },
          },
        ],
      },
    ],
  };
}

export function renderRulesTests(): RulesTestFile {
  return {
    rule_files: [ruleFileNames.recording, ruleFileNames.alerting],
    evaluation_interval: '1m',
    tests: [highErrorRate(), latencySloBurn(), podRestarting(), nodeDown()],
  };
}

export const rulesTestFileName = 'alerts.test.yaml';

export function renderRulesTestsYaml(): string {
  return generatedYaml('monitoring/rules-tests.ts', renderRulesTests());
}
