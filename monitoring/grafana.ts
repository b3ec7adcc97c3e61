/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import type { KubernetesObject, V1ConfigMap, V1EnvVar, V1Secret, V1Service } from '@kubernetes/client-node';
import {
  componentEphemeralStorage,
  componentResources,
  configHash,
  generatedYaml,
  hardenedContainer,
  images,
  labelsFor,
  namespaces,
  resourceRequirements,
  restrictedPodSecurity,
  selectorFor,
  singletonDeployment,
} from './common.ts';
import { datasourceUids, renderDashboard, type DashboardName } from './grafana-dashboards.ts';
import { prometheusPort } from './prometheus.ts';
import { requestMetric } from './prometheus-rules.ts';

export interface GrafanaOptions {
  readonly dashboards: readonly DashboardName[];
}

const app = 'grafana';
export const grafanaPort = 3000;

/**
 * The admin password lives in this Secret. The layer renders it without data; the first apply
 * fills in a generated password under its own field manager (monitoring/grafana-admin.ts), so
 * re-applies neither see a change nor rotate it, and it is only printed on request.
 */
export const grafanaAdminSecret = { name: 'grafana-admin', namespace: namespaces.monitoring, userKey: 'admin-user', passwordKey: 'admin-password' } as const;

const jaegerQueryUrl = `http://jaeger-query.${namespaces.jaeger}.svc.cluster.local:16686`;
const prometheusUrl = `http://prometheus.${namespaces.monitoring}.svc.cluster.local:${prometheusPort}`;

/**
 * Grafana datasource provisioning. `$$` escapes Grafana's environment interpolation of
 * provisioning files, so `$__tags` reaches the trace-to-metrics query literally.
 */
export function renderDatasources(): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: 'Prometheus',
        type: 'prometheus',
        uid: datasourceUids.prometheus,
        access: 'proxy',
        url: prometheusUrl,
        isDefault: true,
        editable: false,
        jsonData: {
          httpMethod: 'POST',
          // Exemplars carry the trace id (prom-client label trace_id) → open the trace in Jaeger.
          exemplarTraceIdDestinations: [{ name: 'trace_id', datasourceUid: datasourceUids.jaeger }],
        },
      },
      {
        name: 'Jaeger',
        type: 'jaeger',
        uid: datasourceUids.jaeger,
        access: 'proxy',
        url: jaegerQueryUrl,
        editable: false,
        jsonData: {
          tracesToMetrics: {
            datasourceUid: datasourceUids.prometheus,
            spanStartTimeShift: '-5m',
            spanEndTimeShift: '5m',
            tags: [{ key: 'service.name', value: 'service' }],
            queries: [
              { name: 'Request rate', query: `sum by (service) (rate(${requestMetric}_count{$$__tags}[1m]))` },
              {
                name: 'Error ratio',
                query: `sum by (service) (rate(${requestMetric}_count{$$__tags, status=~"5.."}[1m])) / sum by (service) (rate(${requestMetric}_count{$$__tags}[1m]))`,
              },
              { name: 'p99 duration', query: `histogram_quantile(0.99, sum by (le) (rate(${requestMetric}_bucket{$$__tags}[1m])))` },
            ],
          },
        },
      },
    ],
  };
}

const dashboardsPath = '/var/lib/grafana-dashboards';

export function renderDashboardProvider(): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [
      {
        name: 'tracelab',
        folder: 'Tracelab',
        type: 'file',
        disableDeletion: true,
        allowUiUpdates: false,
        updateIntervalSeconds: 30,
        options: { path: dashboardsPath, foldersFromFilesStructure: false },
      },
    ],
  };
}

export function renderGrafana(options: GrafanaOptions): KubernetesObject[] {
  const namespace = namespaces.monitoring;
  const labels = labelsFor(app, 'dashboards');
  const provisioning: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'grafana-provisioning', namespace, labels },
    data: {
      'datasources.yaml': generatedYaml('monitoring/grafana.ts', renderDatasources()),
      'dashboards.yaml': generatedYaml('monitoring/grafana.ts', renderDashboardProvider()),
    },
  };
  const dashboards: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'grafana-dashboards', namespace, labels },
    data: Object.fromEntries(options.dashboards.map((name) => [`${name}.json`, JSON.stringify(renderDashboard(name), null, 2)])),
  };
  const adminSecret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: grafanaAdminSecret.name, namespace, labels },
    type: 'Opaque',
  };
  const fromSecret = (name: string, key: string): V1EnvVar => ({ name, valueFrom: { secretKeyRef: { name: grafanaAdminSecret.name, key } } });
  const env: V1EnvVar[] = [
    fromSecret('GF_SECURITY_ADMIN_USER', grafanaAdminSecret.userKey),
    fromSecret('GF_SECURITY_ADMIN_PASSWORD', grafanaAdminSecret.passwordKey),
    { name: 'GF_AUTH_ANONYMOUS_ENABLED', value: 'false' },
    { name: 'GF_USERS_ALLOW_SIGN_UP', value: 'false' },
    { name: 'GF_SECURITY_DISABLE_GRAVATAR', value: 'true' },
    { name: 'GF_ANALYTICS_REPORTING_ENABLED', value: 'false' },
    { name: 'GF_ANALYTICS_CHECK_FOR_UPDATES', value: 'false' },
    { name: 'GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES', value: 'false' },
    // Labs may have no internet; the built-in Prometheus and Jaeger datasources need no plugins.
    { name: 'GF_PLUGINS_PREINSTALL_DISABLED', value: 'true' },
    { name: 'GF_LOG_MODE', value: 'console' },
    { name: 'GF_PATHS_DATA', value: '/var/lib/grafana' },
    { name: 'GF_PATHS_PROVISIONING', value: '/etc/grafana/provisioning' },
  ];
  const deployment = singletonDeployment({
    app,
    namespace,
    labels,
    metrics: { port: grafanaPort },
    // UID 472 is the image's own user, which owns its files (as Grafana's Helm chart runs it).
    kubeScoreIgnores: ['container-security-context-user-group-id'],
    configHash: configHash(...Object.values(provisioning.data ?? {}), ...Object.values(dashboards.data ?? {})),
    podSpec: {
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurity(472),
      containers: [
        hardenedContainer({
          name: app,
          image: images.grafana,
          env,
          ports: [{ name: 'http', containerPort: grafanaPort }],
          // /api/health also checks the database (ready); /healthz only that the web server runs (alive).
          readinessProbe: { httpGet: { path: '/api/health', port: 'http' }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 15, failureThreshold: 6 },
          resources: resourceRequirements(componentResources.grafana, componentEphemeralStorage.grafana),
          volumeMounts: [
            { name: 'provisioning', mountPath: '/etc/grafana/provisioning/datasources/datasources.yaml', subPath: 'datasources.yaml', readOnly: true },
            { name: 'provisioning', mountPath: '/etc/grafana/provisioning/dashboards/dashboards.yaml', subPath: 'dashboards.yaml', readOnly: true },
            { name: 'dashboards', mountPath: dashboardsPath, readOnly: true },
            { name: 'data', mountPath: '/var/lib/grafana' },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        }),
      ],
      volumes: [
        { name: 'provisioning', configMap: { name: 'grafana-provisioning' } },
        { name: 'dashboards', configMap: { name: 'grafana-dashboards' } },
        { name: 'data', emptyDir: { sizeLimit: '512Mi' } },
        { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
      ],
    },
  });
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace, labels },
    spec: { selector: selectorFor(app), ports: [{ name: 'http', port: grafanaPort, targetPort: 'http', appProtocol: 'http' }] },
  };
  return [provisioning, dashboards, adminSecret, deployment, service];
}
