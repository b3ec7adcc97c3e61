import type { KubernetesObject } from '@kubernetes/client-node';
import type { Layer } from '../core/layer.ts';
import { UserError } from '../core/errors.ts';
import { renderNamespace, namespaces } from './common.ts';
import { findForeignMetricsServer } from './existing-metrics-server.ts';
import { ensureGrafanaAdminPassword } from './grafana-admin.ts';
import { dashboardNames, type DashboardName } from './grafana-dashboards.ts';
import { renderGrafana } from './grafana.ts';
import { renderJaeger } from './jaeger.ts';
import { renderMetricsServer } from './metrics-server.ts';
import { renderMonitoringNetworkPolicies } from './network-policies.ts';
import { renderNodeExporter } from './node-exporter.ts';
import type { KubeletTls } from './prometheus-config.ts';
import { renderPrometheus } from './prometheus.ts';

export interface MonitoringOptions {
  /** Prometheus keeps samples this long (Prometheus duration). */
  readonly retentionTime: string;
  /** …and at most this many bytes of blocks (Prometheus size, e.g. 1GB). */
  readonly retentionSize: string;
  readonly retentionSizeBytes: number;
  readonly scrapeInterval: string;
  /** Jaeger's in-memory trace store keeps at most this many traces. */
  readonly maxTraces: number;
  readonly dashboards: readonly DashboardName[];
  /** Labels selecting the nodes that run node-exporter; empty selects every node. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly kubeletTls: KubeletTls;
  /** Install metrics-server (skip it on clusters that already have one). */
  readonly metricsServer: boolean;
  /** Install Grafana (leave it out where its image cannot be had, e.g. an air-gapped lab without it). */
  readonly grafana: boolean;
}

/** The option names as the CLI spells them (`--retention`, …); defaults documented here. */
export const monitoringOptionDefaults = {
  retention: '24h',
  'retention-size': '1GB',
  'scrape-interval': '15s',
  'max-traces': '20000',
  dashboards: dashboardNames.join(','),
  'node-profile': undefined,
  'node-selector': undefined,
  'kubelet-tls': 'insecure',
  'metrics-server': 'true',
  grafana: 'true',
} as const satisfies Record<string, string | undefined>;

export type MonitoringRawOptions = Partial<Record<keyof typeof monitoringOptionDefaults, string | undefined>>;

/** The node label set by `--node-profile <name>` (inventory profiles label their nodes with it). */
export const nodeProfileLabel = 'tracelab.dev/profile';

const durationUnitsMs: Record<string, number> = { y: 31_536_000_000, w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds of a Prometheus duration (`1h30m`, `2d`), or undefined when it is not one. */
export function parsePrometheusDuration(text: string): number | undefined {
  if (!/^(\d+(y|w|d|h|ms|m|s))+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/(\d+)(y|w|d|h|ms|m|s)/g)) total += Number(match[1]) * (durationUnitsMs[match[2] ?? ''] ?? 0);
  return total;
}

const sizeUnits: Record<string, number> = { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/** Bytes of a Prometheus size (`512MB`, `2GB`; powers of 2 as Prometheus reads them), or undefined. */
export function parsePrometheusSize(text: string): number | undefined {
  const match = /^(\d+)(B|KB|MB|GB|TB)$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (sizeUnits[match[2] ?? ''] ?? 0);
}

const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

const hour = 3_600_000;

export function parseMonitoringOptions(raw: Readonly<MonitoringRawOptions>): MonitoringOptions {
  const known = Object.keys(monitoringOptionDefaults);
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw new UserError(`unknown option --${key} for the monitoring layer: it takes ${known.map((name) => `--${name}`).join(', ')}`);
  }
  const value = (key: keyof typeof monitoringOptionDefaults): string | undefined => raw[key] ?? monitoringOptionDefaults[key];
  const required = (key: keyof typeof monitoringOptionDefaults): string => value(key) ?? '';

  const retentionTime = required('retention');
  const retentionMs = parsePrometheusDuration(retentionTime);
  if (retentionMs === undefined || retentionMs <= 0) {
    throw new UserError(`--retention '${retentionTime}' is not a positive Prometheus duration: pass e.g. --retention 24h or --retention 2d`);
  }
  if (retentionMs < 6 * hour) {
    throw new UserError(`--retention '${retentionTime}' is shorter than the 6h window of the latency burn-rate alert: pass --retention 6h or more`);
  }

  const retentionSize = required('retention-size');
  const retentionSizeBytes = parsePrometheusSize(retentionSize);
  if (retentionSizeBytes === undefined || retentionSizeBytes < 64 * 2 ** 20 || retentionSizeBytes > 64 * 2 ** 30) {
    throw new UserError(`--retention-size '${retentionSize}' is not a size between 64MB and 64GB: pass e.g. --retention-size 1GB or 512MB`);
  }

  const scrapeInterval = required('scrape-interval');
  const scrapeMs = parsePrometheusDuration(scrapeInterval);
  if (scrapeMs === undefined || scrapeMs < 5000 || scrapeMs > 300_000) {
    throw new UserError(`--scrape-interval '${scrapeInterval}' is not a duration between 5s and 5m: pass e.g. --scrape-interval 15s`);
  }

  const maxTracesText = required('max-traces');
  const maxTraces = /^\d+$/.test(maxTracesText) ? Number(maxTracesText) : Number.NaN;
  // A five-span demo trace takes about 12 KiB in Jaeger's memory store; 30000 stay below its 512Mi limit.
  if (!(maxTraces >= 100 && maxTraces <= 30_000)) {
    throw new UserError(`--max-traces '${maxTracesText}' is not a whole number between 100 and 30000 (Jaeger keeps traces within a 512Mi memory limit): pass e.g. --max-traces 20000`);
  }

  const dashboardsText = required('dashboards');
  const requested = dashboardsText.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = requested.filter((name) => !(dashboardNames as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new UserError(`--dashboards: unknown dashboard '${unknown.join("', '")}': choose from ${dashboardNames.join(', ')} (comma-separated)`);
  }
  const dashboards = dashboardNames.filter((name) => requested.includes(name));

  const nodeSelector: Record<string, string> = {};
  const profile = value('node-profile');
  if (profile !== undefined) {
    if (profile === '' || !labelValue.test(profile)) {
      throw new UserError(`--node-profile '${profile}' is not a valid label value: use letters, digits, '-', '_' or '.' (at most 63), e.g. --node-profile worker`);
    }
    nodeSelector[nodeProfileLabel] = profile;
  }
  const selectorText = value('node-selector');
  if (selectorText !== undefined) {
    for (const pair of selectorText.split(',').filter((part) => part.trim() !== '')) {
      const [key = '', labelText, ...rest] = pair.trim().split('=');
      if (labelText === undefined || rest.length > 0 || !labelKey.test(key) || !labelValue.test(labelText)) {
        throw new UserError(`--node-selector '${pair}' is not a label=value pair: pass e.g. --node-selector kubernetes.io/os=linux,tracelab.dev/profile=worker`);
      }
      nodeSelector[key] = labelText;
    }
  }

  const kubeletTls = required('kubelet-tls');
  if (kubeletTls !== 'insecure' && kubeletTls !== 'verified') {
    throw new UserError(`--kubelet-tls '${kubeletTls}' is neither 'insecure' nor 'verified': use 'verified' only on clusters with serverTLSBootstrap and approved kubelet CSRs`);
  }

  const metricsServerText = required('metrics-server');
  if (metricsServerText !== 'true' && metricsServerText !== 'false') {
    throw new UserError(`--metrics-server '${metricsServerText}' is not true or false: pass --metrics-server false on clusters that already run one`);
  }

  const grafanaText = required('grafana');
  if (grafanaText !== 'true' && grafanaText !== 'false') {
    throw new UserError(`--grafana '${grafanaText}' is not true or false: pass --grafana false to leave Grafana out`);
  }

  return {
    grafana: grafanaText === 'true',
    retentionTime,
    retentionSize,
    retentionSizeBytes,
    scrapeInterval,
    maxTraces,
    dashboards,
    nodeSelector,
    kubeletTls,
    metricsServer: metricsServerText === 'true',
  };
}

/**
 * Everything a person needs to browse traces and metrics: Jaeger v2, Prometheus v3 with rules,
 * Grafana with provisioned datasources and dashboards, node-exporter and metrics-server, and the
 * NetworkPolicies between them.
 */
export function renderMonitoring(options: MonitoringOptions): KubernetesObject[] {
  return [
    ...renderJaeger({ maxTraces: options.maxTraces }),
    // node-exporter needs host namespaces: see monitoring/node-exporter.ts for why this is privileged.
    renderNamespace(namespaces.monitoring, 'privileged'),
    ...renderPrometheus(options),
    ...(options.grafana ? renderGrafana({ dashboards: options.dashboards }) : []),
    ...renderNodeExporter({ nodeSelector: options.nodeSelector }),
    ...(options.metricsServer ? renderMetricsServer({ kubeletTls: options.kubeletTls }) : []),
    // Default deny per namespace plus the flows above; node-exporter's host network is outside them.
    ...renderMonitoringNetworkPolicies({ grafana: options.grafana, metricsServer: options.metricsServer }),
  ];
}

export const monitoringLayer: Layer<MonitoringOptions> = {
  name: 'monitoring',
  description: 'Jaeger v2, Prometheus v3 with rules, Grafana dashboards, node-exporter and metrics-server',
  namespaces: [namespaces.jaeger, namespaces.monitoring],
  installedByBootstrap: true,
  parseOptions: (raw) => parseMonitoringOptions(raw),
  // The cluster may have a metrics-server already: adopting it and deleting it on teardown would break whoever installed it.
  async adaptToCluster(kube, options, { output }) {
    if (!options.metricsServer) return options;
    const found = await findForeignMetricsServer(kube, 'monitoring');
    if (found === undefined) return options;
    output.warn(`metrics-server is already installed (${found}, not by tracelab): leaving it alone — the HPAs use it; pass --metrics-server false to skip this check`);
    return { ...options, metricsServer: false };
  },
  render: renderMonitoring,
  // The render leaves Grafana's admin Secret empty, so that re-applies never rotate the password;
  // Grafana starts only once it holds one, hence before the wait.
  async afterApply(kube, options, { dryRun, output }) {
    if (!options.grafana) return;
    await output.step('Grafana admin password', async () => {
      const generated = await ensureGrafanaAdminPassword(kube, { dryRun });
      if (!generated) output.detail('kept the existing one');
      else output.detail(dryRun ? 'would be generated' : 'generated (print it with `tracelab monitoring password`)');
    });
  },
};
