import { generatedYaml } from './common.ts';

/** The subset of the Prometheus 3 configuration file tracelab writes (prometheus.io/docs configuration). */
export interface RelabelConfig {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: 'replace' | 'keep' | 'drop' | 'labelmap' | 'labeldrop' | 'labelkeep';
}

export interface ScrapeConfig {
  job_name: string;
  scheme?: 'http' | 'https';
  metrics_path?: string;
  honor_labels?: boolean;
  kubernetes_sd_configs?: { role: 'pod' | 'node' | 'endpointslice'; namespaces?: { names: string[] } }[];
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  tls_config?: { ca_file?: string; insecure_skip_verify?: boolean };
  authorization?: { credentials_file: string };
  relabel_configs?: RelabelConfig[];
  metric_relabel_configs?: RelabelConfig[];
}

export interface PrometheusConfig {
  global: { scrape_interval: string; evaluation_interval: string; external_labels?: Record<string, string> };
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
  storage: {
    tsdb: { retention: { time: string; size: string } };
    exemplars: { max_exemplars: number };
  };
}

export interface PrometheusConfigOptions {
  readonly scrapeInterval: string;
  readonly retentionTime: string;
  readonly retentionSize: string;
  /** 'insecure' skips verifying kubelet serving certificates (kubeadm's are self-signed by default). */
  readonly kubeletTls: KubeletTls;
  /** Where the rule files are mounted; the glob is relative to the config file when relative. */
  readonly rulesGlob?: string;
}

export type KubeletTls = 'insecure' | 'verified';

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
const inClusterTls = { ca_file: `${serviceAccountDir}/ca.crt` };
const inClusterAuth = { credentials_file: `${serviceAccountDir}/token` };

/** The cAdvisor series the dashboards and alerts use; the rest would multiply the memory footprint. */
export const keptCadvisorMetrics = [
  'container_cpu_usage_seconds_total',
  'container_cpu_cfs_periods_total',
  'container_cpu_cfs_throttled_periods_total',
  'container_memory_working_set_bytes',
  'container_start_time_seconds',
  'container_network_receive_bytes_total',
  'container_network_transmit_bytes_total',
];

/**
 * Pods opt in with `prometheus.io/scrape: "true"` (+ `port`, `path`, `scheme`). Istio's metrics
 * merging rewrites these annotations to :15020/stats/prometheus, so one job yields the app's
 * metrics and `istio_requests_total`. The target gets `namespace`, `pod`, `node` and `app`
 * labels but never `service`: the demo's own `service` label must survive unchanged.
 */
function annotatedPodsJob(): ScrapeConfig {
  const annotation = (name: string): string => `__meta_kubernetes_pod_annotation_prometheus_io_${name}`;
  return {
    job_name: 'kubernetes-pods',
    kubernetes_sd_configs: [{ role: 'pod' }],
    relabel_configs: [
      { source_labels: [annotation('scrape')], regex: 'true', action: 'keep' },
      { source_labels: ['__meta_kubernetes_pod_phase'], regex: 'Pending|Succeeded|Failed|Completed', action: 'drop' },
      { source_labels: [annotation('scheme')], regex: '(https?)', target_label: '__scheme__', action: 'replace' },
      { source_labels: [annotation('path')], regex: '(.+)', target_label: '__metrics_path__', action: 'replace' },
      // IPv6 pod addresses need brackets; IPv4 ones must not get them.
      { source_labels: [annotation('port'), '__meta_kubernetes_pod_ip'], regex: '(\\d+);(.*:.*)', replacement: '[$2]:$1', target_label: '__address__', action: 'replace' },
      { source_labels: [annotation('port'), '__meta_kubernetes_pod_ip'], regex: '(\\d+);([^:]+)', replacement: '$2:$1', target_label: '__address__', action: 'replace' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace', action: 'replace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod', action: 'replace' },
      { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node', action: 'replace' },
      { source_labels: ['__meta_kubernetes_pod_label_app'], regex: '(.+)', target_label: 'app', action: 'replace' },
    ],
  };
}

function apiserverJob(): ScrapeConfig {
  return {
    job_name: 'kubernetes-apiservers',
    scheme: 'https',
    kubernetes_sd_configs: [{ role: 'endpointslice', namespaces: { names: ['default'] } }],
    tls_config: inClusterTls,
    authorization: inClusterAuth,
    relabel_configs: [
      {
        source_labels: ['__meta_kubernetes_service_name', '__meta_kubernetes_endpointslice_port_name'],
        regex: 'kubernetes;https',
        action: 'keep',
      },
    ],
  };
}

/**
 * Kubelets are scraped directly on :10250 with the service account token (RBAC `nodes/metrics`),
 * not through the API server proxy, which would need the far broader `nodes/proxy`.
 */
function kubeletJob(jobName: string, metricsPath: string, kubeletTls: KubeletTls): ScrapeConfig {
  return {
    job_name: jobName,
    scheme: 'https',
    metrics_path: metricsPath,
    kubernetes_sd_configs: [{ role: 'node' }],
    tls_config: kubeletTls === 'insecure' ? { insecure_skip_verify: true } : inClusterTls,
    authorization: inClusterAuth,
    relabel_configs: [{ source_labels: ['__meta_kubernetes_node_name'], target_label: 'node', action: 'replace' }],
  };
}

function nodeExporterJob(namespace: string): ScrapeConfig {
  return {
    job_name: 'node-exporter',
    kubernetes_sd_configs: [{ role: 'endpointslice', namespaces: { names: [namespace] } }],
    relabel_configs: [
      { source_labels: ['__meta_kubernetes_service_name'], regex: 'node-exporter', action: 'keep' },
      { source_labels: ['__meta_kubernetes_endpointslice_port_name'], regex: 'metrics', action: 'keep' },
      { source_labels: ['__meta_kubernetes_endpointslice_endpoint_node_name'], target_label: 'node', action: 'replace' },
    ],
  };
}

export function renderPrometheusConfig(options: PrometheusConfigOptions & { nodeExporterNamespace: string }): PrometheusConfig {
  const cadvisor = kubeletJob('kubernetes-nodes-cadvisor', '/metrics/cadvisor', options.kubeletTls);
  cadvisor.metric_relabel_configs = [{ source_labels: ['__name__'], regex: keptCadvisorMetrics.join('|'), action: 'keep' }];
  return {
    global: { scrape_interval: options.scrapeInterval, evaluation_interval: options.scrapeInterval },
    rule_files: [options.rulesGlob ?? '/etc/prometheus/rules/*.yaml'],
    scrape_configs: [
      annotatedPodsJob(),
      apiserverJob(),
      kubeletJob('kubernetes-nodes', '/metrics', options.kubeletTls),
      cadvisor,
      nodeExporterJob(options.nodeExporterNamespace),
    ],
    storage: {
      // In the config file rather than --storage.tsdb.retention.* flags: Prometheus 3.16 deprecates those.
      tsdb: { retention: { time: options.retentionTime, size: options.retentionSize } },
      exemplars: { max_exemplars: 100_000 },
    },
  };
}

export function prometheusYaml(config: PrometheusConfig | Record<string, unknown>): string {
  return generatedYaml('monitoring/prometheus-config.ts', config);
}
