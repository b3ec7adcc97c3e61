/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { KubernetesObject, V1ClusterRole, V1ClusterRoleBinding, V1ConfigMap, V1Deployment, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { namespaces as monitoringNamespaces, resourceRequirements, restrictedContainerSecurity, restrictedPodSecurity } from '../monitoring/common.ts';
import { defaultJaegerPorts } from '../monitoring/jaeger.ts';
import { meshNamespaces } from './names.ts';
import { kialiResources } from './resources.ts';

/** The Kiali release Istio 1.31's own addons pin. */
export const kialiImage = 'quay.io/kiali/kiali:v2.27.0';
export const kiali = { name: 'kiali', port: 20001, metricsPort: 9090 } as const;

const labels = { app: kiali.name, 'app.kubernetes.io/name': kiali.name, 'app.kubernetes.io/part-of': 'tracelab-mesh', 'app.kubernetes.io/managed-by': 'tracelab' };

/**
 * Kiali's server config: anonymous and view-only (reachable only through `npm run ui`'s port-forward
 * to localhost), reading the monitoring layer's Prometheus and Jaeger.
 */
export function kialiConfig(): Record<string, unknown> {
  return {
    auth: { strategy: 'anonymous' },
    deployment: { namespace: meshNamespaces.root, view_only_mode: true, cluster_wide_access: true },
    istio_namespace: meshNamespaces.root,
    server: { port: kiali.port, web_root: '/kiali', observability: { metrics: { enabled: true, port: kiali.metricsPort } } },
    external_services: {
      prometheus: { url: `http://prometheus.${monitoringNamespaces.monitoring}:9090` },
      tracing: {
        enabled: true,
        provider: 'jaeger',
        use_grpc: false,
        internal_url: `http://jaeger-query.${monitoringNamespaces.jaeger}:${String(defaultJaegerPorts.queryHttp)}`,
      },
      grafana: { enabled: false },
    },
  };
}

/** What Kiali may read (nothing it may change): workloads, their config, Istio's resources. */
function kialiClusterRole(): V1ClusterRole {
  const read = ['get', 'list', 'watch'];
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'tracelab-kiali-viewer', labels },
    rules: [
      { apiGroups: [''], resources: ['configmaps', 'endpoints', 'namespaces', 'nodes', 'pods', 'pods/log', 'replicationcontrollers', 'services'], verbs: read },
      { apiGroups: ['apps'], resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'], verbs: read },
      { apiGroups: ['batch'], resources: ['cronjobs', 'jobs'], verbs: read },
      { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: read },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: read },
      {
        apiGroups: ['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'extensions.istio.io', 'gateway.networking.k8s.io', 'inference.networking.k8s.io'],
        resources: ['*'],
        verbs: read,
      },
    ],
  };
}

/** Kiali, when `--kiali true`: its account and read-only rights, its config, the server and its Service. */
export function renderKiali(): KubernetesObject[] {
  const namespace = meshNamespaces.root;
  const account: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: kiali.name, namespace, labels } };
  const binding: V1ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'tracelab-kiali-viewer', labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tracelab-kiali-viewer' },
    subjects: [{ kind: 'ServiceAccount', name: kiali.name, namespace }],
  };
  const config: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: kiali.name, namespace, labels }, data: { 'config.yaml': stringify(kialiConfig(), { version: '1.1' }) } };
  const probe = { httpGet: { path: '/kiali/healthz', port: 'api' } };
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: kiali.name, namespace, labels, annotations: { 'kube-score/ignore': 'container-image-pull-policy' } },
    spec: {
      replicas: 1,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { app: kiali.name } },
      template: {
        metadata: { labels: { ...labels, 'sidecar.istio.io/inject': 'false' } },
        spec: {
          serviceAccountName: kiali.name,
          securityContext: restrictedPodSecurity(),
          containers: [
            {
              name: kiali.name,
              image: kialiImage,
              imagePullPolicy: 'IfNotPresent',
              command: ['/opt/kiali/kiali', '-config', '/kiali-configuration/config.yaml'],
              ports: [{ name: 'api', containerPort: kiali.port }, { name: 'metrics', containerPort: kiali.metricsPort }],
              env: [{ name: 'LOG_LEVEL', value: 'info' }],
              readinessProbe: { ...probe, periodSeconds: 10 },
              // Alive while it accepts connections; ready when its health endpoint says so.
              livenessProbe: { tcpSocket: { port: 'api' }, periodSeconds: 30, failureThreshold: 3 },
              startupProbe: { ...probe, periodSeconds: 5, failureThreshold: 24 },
              resources: resourceRequirements(kialiResources, { request: '16Mi', limit: '64Mi' }),
              securityContext: structuredClone(restrictedContainerSecurity),
              volumeMounts: [{ name: 'config', mountPath: '/kiali-configuration' }],
            },
          ],
          volumes: [{ name: 'config', configMap: { name: kiali.name } }],
        },
      },
    },
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: kiali.name, namespace, labels },
    spec: { selector: { app: kiali.name }, ports: [{ name: 'http', port: kiali.port, targetPort: 'api', protocol: 'TCP' }, { name: 'metrics', port: kiali.metricsPort, targetPort: 'metrics', protocol: 'TCP' }] },
  };
  return [account, kialiClusterRole(), binding, config, deployment, service];
}
