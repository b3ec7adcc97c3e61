/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import type {
  KubernetesObject,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import {
  componentResources,
  configHash,
  hardenedContainer,
  type EphemeralStorage,
  images,
  labelsFor,
  namespaces,
  resourceRequirements,
  restrictedPodSecurity,
  selectorFor,
  singletonDeployment,
} from './common.ts';
import { prometheusYaml, renderPrometheusConfig, type KubeletTls } from './prometheus-config.ts';
import { renderRuleFiles } from './prometheus-rules.ts';

export interface PrometheusOptions {
  readonly scrapeInterval: string;
  readonly retentionTime: string;
  readonly retentionSize: string;
  readonly retentionSizeBytes: number;
  readonly kubeletTls: KubeletTls;
}

const app = 'prometheus';
export const prometheusPort = 9090;
/** Flags beyond paths and addresses; local tests start the real Prometheus with the same ones. */
export const prometheusFeatureArgs = ['--enable-feature=exemplar-storage'] as const;

/**
 * The TSDB lives in an emptyDir: a lab keeps hours of data, not history. Size-based retention
 * stays below the volume limit (blocks plus WAL and compaction headroom), so the kubelet never
 * evicts the pod for filling it; the container may use the volume plus room for its logs, and
 * requests the whole volume so that the scheduler places it on a node with that much disk.
 */
export function prometheusStorage(retentionSizeBytes: number): { volumeSizeLimit: string; ephemeralStorage: EphemeralStorage } {
  const volumeMi = Math.ceil((retentionSizeBytes * 1.5) / 2 ** 20) + 256;
  return { volumeSizeLimit: `${volumeMi}Mi`, ephemeralStorage: { request: `${volumeMi}Mi`, limit: `${volumeMi + 256}Mi` } };
}

export function renderPrometheus(options: PrometheusOptions): KubernetesObject[] {
  const namespace = namespaces.monitoring;
  const labels = labelsFor(app, 'metrics');
  const configYaml = prometheusYaml(renderPrometheusConfig({ ...options, nodeExporterNamespace: namespaces.monitoring }));
  const ruleFiles = renderRuleFiles();

  const serviceAccount: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: app, namespace, labels } };
  const clusterRole: V1ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'tracelab-prometheus', labels },
    rules: [
      { apiGroups: [''], resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ],
  };
  const clusterRoleBinding: V1ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'tracelab-prometheus', labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tracelab-prometheus' },
    subjects: [{ kind: 'ServiceAccount', name: app, namespace }],
  };
  const config: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'prometheus-config', namespace, labels },
    data: { 'prometheus.yml': configYaml },
  };
  const rules: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'prometheus-rules', namespace, labels },
    data: ruleFiles,
  };
  const storage = prometheusStorage(options.retentionSizeBytes);
  const deployment = singletonDeployment({
    app,
    namespace,
    labels,
    metrics: { port: prometheusPort },
    configHash: configHash(configYaml, ...Object.values(ruleFiles)),
    podSpec: {
      serviceAccountName: app,
      securityContext: restrictedPodSecurity(),
      containers: [
        hardenedContainer({
          name: app,
          image: images.prometheus,
          args: [
            '--config.file=/etc/prometheus/config/prometheus.yml',
            '--storage.tsdb.path=/prometheus',
            `--web.listen-address=:${prometheusPort}`,
            ...prometheusFeatureArgs,
          ],
          ports: [{ name: 'http', containerPort: prometheusPort }],
          readinessProbe: { httpGet: { path: '/-/ready', port: 'http' }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: '/-/healthy', port: 'http' }, periodSeconds: 15, failureThreshold: 4 },
          resources: resourceRequirements(componentResources.prometheus, storage.ephemeralStorage),
          volumeMounts: [
            { name: 'config', mountPath: '/etc/prometheus/config', readOnly: true },
            { name: 'rules', mountPath: '/etc/prometheus/rules', readOnly: true },
            { name: 'data', mountPath: '/prometheus' },
          ],
        }),
      ],
      volumes: [
        { name: 'config', configMap: { name: 'prometheus-config' } },
        { name: 'rules', configMap: { name: 'prometheus-rules' } },
        { name: 'data', emptyDir: { sizeLimit: storage.volumeSizeLimit } },
      ],
    },
  });
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace, labels },
    spec: { selector: selectorFor(app), ports: [{ name: 'http', port: prometheusPort, targetPort: 'http', appProtocol: 'http' }] },
  };
  return [serviceAccount, clusterRole, clusterRoleBinding, config, rules, deployment, service];
}
