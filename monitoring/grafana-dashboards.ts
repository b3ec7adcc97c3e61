/* eslint-disable @typescript-eslint/no-deprecated -- Grafana 12 provisions classic (v1) dashboard JSON from files; the v2 schema needs feature flags. */
import { VizLegendOptionsBuilder, LegendDisplayMode, LegendPlacement } from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, QueryVariableBuilder, RowBuilder, VariableRefresh, VariableSort, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { requestMetric } from './prometheus-rules.ts';

/** Datasource uids are fixed by provisioning, so dashboards and links can name them. */
export const datasourceUids = { prometheus: 'prometheus', jaeger: 'jaeger' } as const;
const prometheus = { type: 'prometheus', uid: datasourceUids.prometheus };

export const demoNamespace = 'tracelab-demo';

export const dashboardNames = ['services', 'mesh', 'nodes', 'autoscaling'] as const;
export type DashboardName = (typeof dashboardNames)[number];

interface PanelSpec {
  readonly title: string;
  readonly unit: string;
  readonly queries: readonly { expr: string; legend: string; exemplar?: boolean }[];
  readonly description?: string;
}

function timeseries(spec: PanelSpec): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(spec.title)
    .unit(spec.unit)
    .datasource(prometheus)
    .legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).showLegend(true));
  if (spec.description !== undefined) panel.description(spec.description);
  spec.queries.forEach((query, index) => {
    panel.withTarget(
      new DataqueryBuilder()
        .refId(String.fromCharCode(65 + index))
        .datasource(prometheus)
        .expr(query.expr)
        .legendFormat(query.legend)
        .exemplar(query.exemplar ?? false),
    );
  });
  return panel;
}

function dashboard(name: DashboardName, title: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(`tracelab-${name}`)
    .tags(['tracelab', 'generated'])
    .refresh('30s')
    .time({ from: 'now-30m', to: 'now' })
    .timezone('browser')
    .readonly();
}

const serviceFilter = 'service=~"$service"';

/** RED of the demo services from their own histogram; the latency panel carries exemplars → Jaeger. */
function servicesDashboard(): Dashboard {
  const count = `${requestMetric}_count{${serviceFilter}}`;
  return dashboard('services', 'Tracelab / Demo services (RED)')
    .description('Rate, errors and duration of the demo services, with exemplars linking to their traces in Jaeger.')
    .withVariable(
      new QueryVariableBuilder('service')
        .label('Service')
        .datasource(prometheus)
        .query(`label_values(${requestMetric}_count, service)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withRow(new RowBuilder('Requests'))
    .withPanel(
      timeseries({
        title: 'Request rate',
        unit: 'reqps',
        queries: [{ expr: `sum by (service) (rate(${count}[$__rate_interval]))`, legend: '{{service}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Error ratio (5xx)',
        unit: 'percentunit',
        queries: [
          {
            expr:
              `(sum by (service) (rate(${requestMetric}_count{${serviceFilter}, status=~"5.."}[$__rate_interval]))` +
              ` or sum by (service) (rate(${count}[$__rate_interval])) * 0)` +
              ` / sum by (service) (rate(${count}[$__rate_interval]))`,
            legend: '{{service}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Duration p50 / p99 (exemplars link to traces)',
        unit: 's',
        queries: [
          {
            expr: `histogram_quantile(0.99, sum by (service, le) (rate(${requestMetric}_bucket{${serviceFilter}}[$__rate_interval])))`,
            legend: 'p99 {{service}}',
            exemplar: true,
          },
          {
            expr: `histogram_quantile(0.50, sum by (service, le) (rate(${requestMetric}_bucket{${serviceFilter}}[$__rate_interval])))`,
            legend: 'p50 {{service}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Requests by route and status',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (service, route, status) (rate(${count}[$__rate_interval]))`,
            legend: '{{service}} {{route}} {{status}}',
          },
        ],
      }),
    )
    .withRow(new RowBuilder('Saturation'))
    .withPanel(
      timeseries({
        title: 'Requests in flight',
        unit: 'short',
        queries: [{ expr: `sum by (service) (tracelab_http_requests_in_flight{${serviceFilter}})`, legend: '{{service}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Process CPU',
        unit: 'percentunit',
        queries: [{ expr: `sum by (service) (rate(process_cpu_seconds_total{${serviceFilter}}[$__rate_interval]))`, legend: '{{service}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Resident memory',
        unit: 'bytes',
        queries: [{ expr: `sum by (service) (process_resident_memory_bytes{${serviceFilter}})`, legend: '{{service}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Latency SLO: slow-request ratio (recorded)',
        unit: 'percentunit',
        description: 'Share of requests slower than the SLO threshold, from the recording rules (5m and 1h windows).',
        queries: [
          { expr: `service:tracelab_http_slow_requests:ratio_rate5m{${serviceFilter}}`, legend: '5m {{service}}' },
          { expr: `service:tracelab_http_slow_requests:ratio_rate1h{${serviceFilter}}`, legend: '1h {{service}}' },
        ],
      }),
    )
    .build();
}

/** Traffic between workloads as the sidecars see it (Istio standard metrics, destination reporter). */
function meshDashboard(): Dashboard {
  const requests = 'istio_requests_total{reporter="destination"}';
  return dashboard('mesh', 'Tracelab / Mesh traffic')
    .description('istio_requests_total by source and destination workload, from the merged sidecar metrics.')
    .withPanel(
      timeseries({
        title: 'Requests by source → destination',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (source_workload, destination_workload) (rate(${requests}[$__rate_interval]))`,
            legend: '{{source_workload}} → {{destination_workload}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Responses by destination and code',
        unit: 'reqps',
        queries: [
          {
            expr: `sum by (destination_workload, response_code) (rate(${requests}[$__rate_interval]))`,
            legend: '{{destination_workload}} {{response_code}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Destination p99 (sidecar)',
        unit: 'ms',
        queries: [
          {
            expr: 'histogram_quantile(0.99, sum by (destination_workload, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[$__rate_interval])))',
            legend: '{{destination_workload}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'mTLS share of requests',
        unit: 'percentunit',
        queries: [
          {
            expr:
              `sum by (destination_workload) (rate(istio_requests_total{reporter="destination", connection_security_policy="mutual_tls"}[$__rate_interval]))` +
              ` / sum by (destination_workload) (rate(${requests}[$__rate_interval]))`,
            legend: '{{destination_workload}}',
          },
        ],
      }),
    )
    .build();
}

function nodesDashboard(): Dashboard {
  return dashboard('nodes', 'Tracelab / Nodes')
    .description('node-exporter on every selected node.')
    .withPanel(
      timeseries({
        title: 'CPU busy',
        unit: 'percentunit',
        queries: [{ expr: '1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))', legend: '{{node}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Memory used',
        unit: 'percentunit',
        queries: [{ expr: '1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes', legend: '{{node}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Load (1m) per CPU',
        unit: 'short',
        queries: [{ expr: 'node_load1 / on (node) count by (node) (node_cpu_seconds_total{mode="idle"})', legend: '{{node}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Root filesystem used',
        unit: 'percentunit',
        queries: [
          {
            expr: '1 - node_filesystem_avail_bytes{mountpoint="/", fstype!="rootfs"} / node_filesystem_size_bytes{mountpoint="/", fstype!="rootfs"}',
            legend: '{{node}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Network received / transmitted',
        unit: 'Bps',
        queries: [
          { expr: 'sum by (node) (rate(node_network_receive_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*"}[$__rate_interval]))', legend: 'rx {{node}}' },
          { expr: 'sum by (node) (rate(node_network_transmit_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*"}[$__rate_interval]))', legend: 'tx {{node}}' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Scrape health',
        unit: 'short',
        queries: [{ expr: 'up{job="node-exporter"}', legend: '{{node}}' }],
      }),
    )
    .build();
}

/**
 * Replicas against CPU for the demo's HorizontalPodAutoscalers. Without kube-state-metrics the
 * replica count is the number of scraped demo pods; CPU comes from the processes and from cAdvisor.
 */
function autoscalingDashboard(): Dashboard {
  const pods = `job="kubernetes-pods", namespace="${demoNamespace}"`;
  return dashboard('autoscaling', 'Tracelab / Autoscaling')
    .description('Demo replicas (scraped pods) against CPU and load, to watch the HorizontalPodAutoscalers work.')
    .withPanel(
      timeseries({
        title: 'Replicas (scraped pods)',
        unit: 'short',
        queries: [{ expr: `count by (app) (up{${pods}} == 1)`, legend: '{{app}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'CPU per pod (process)',
        unit: 'short',
        queries: [{ expr: `sum by (app, pod) (rate(process_cpu_seconds_total{${pods}}[$__rate_interval]))`, legend: '{{pod}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'CPU per pod (cAdvisor, app containers)',
        unit: 'short',
        queries: [
          {
            expr: `sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="${demoNamespace}", container!="", container!="istio-proxy"}[$__rate_interval]))`,
            legend: '{{pod}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Requests per pod',
        unit: 'reqps',
        queries: [{ expr: `sum by (pod) (rate(${requestMetric}_count{${pods}}[$__rate_interval]))`, legend: '{{pod}}' }],
      }),
    )
    .build();
}

const builders: Record<DashboardName, () => Dashboard> = {
  services: servicesDashboard,
  mesh: meshDashboard,
  nodes: nodesDashboard,
  autoscaling: autoscalingDashboard,
};

export function renderDashboard(name: DashboardName): Dashboard {
  return builders[name]();
}

export interface DashboardQuery {
  readonly dashboard: DashboardName;
  readonly panel: string;
  readonly expr: string;
}

/** Every PromQL expression of the rendered dashboards, for checking them against a real Prometheus. */
export function dashboardQueries(names: readonly DashboardName[] = dashboardNames): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const name of names) {
    for (const panel of renderDashboard(name).panels ?? []) {
      if (!('targets' in panel)) continue;
      for (const target of panel.targets ?? []) {
        const expr = (target as { expr?: unknown }).expr;
        if (typeof expr === 'string') queries.push({ dashboard: name, panel: panel.title ?? '', expr });
      }
    }
  }
  return queries;
}
