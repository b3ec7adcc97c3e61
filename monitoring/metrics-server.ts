/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import type {
  KubernetesObject,
  V1APIService,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Deployment,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { componentEphemeralStorage, componentResources, hardenedContainer, images, kubeScoreIgnores, labelsFor, namespaces, resourceRequirements, restrictedPodSecurity } from './common.ts';
import type { KubeletTls } from './prometheus-config.ts';

export interface MetricsServerOptions {
  /**
   * How metrics-server (and Prometheus) trust the kubelets' serving certificates.
   * - 'insecure' (default, for labs): kubeadm kubelets serve a self-signed certificate, so
   *   metrics-server runs with --kubelet-insecure-tls. Traffic stays encrypted; the kubelet's
   *   identity is not verified.
   * - 'verified': for clusters bootstrapped with `serverTLSBootstrap: true` in the
   *   KubeletConfiguration, whose kubelet-serving CSRs have been approved; the certificates are
   *   then signed by the cluster CA and verified with the service account's ca.crt.
   */
  readonly kubeletTls: KubeletTls;
}

const name = 'metrics-server';
export const metricsServerPort = 10250;
const rbac = 'rbac.authorization.k8s.io';

export function renderMetricsServer(options: MetricsServerOptions): KubernetesObject[] {
  const namespace = namespaces.metricsServer;
  const labels = { ...labelsFor(name, 'resource-metrics'), 'k8s-app': name };
  const selector = { 'k8s-app': name };
  const serviceAccount: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, labels } };
  const aggregatedReader: V1ClusterRole = {
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRole',
    metadata: {
      name: 'system:aggregated-metrics-reader',
      labels: {
        ...labels,
        'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
        'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
        'rbac.authorization.k8s.io/aggregate-to-view': 'true',
      },
    },
    rules: [{ apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] }],
  };
  const serverRole: V1ClusterRole = {
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRole',
    metadata: { name: 'system:metrics-server', labels },
    rules: [
      { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
    ],
  };
  const subjects = [{ kind: 'ServiceAccount', name, namespace }];
  const authReader: V1RoleBinding = {
    apiVersion: `${rbac}/v1`,
    kind: 'RoleBinding',
    metadata: { name: 'metrics-server-auth-reader', namespace, labels },
    roleRef: { apiGroup: rbac, kind: 'Role', name: 'extension-apiserver-authentication-reader' },
    subjects,
  };
  const authDelegator: V1ClusterRoleBinding = {
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: 'metrics-server:system:auth-delegator', labels },
    roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'system:auth-delegator' },
    subjects,
  };
  const serverBinding: V1ClusterRoleBinding = {
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: 'system:metrics-server', labels },
    roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'system:metrics-server' },
    subjects,
  };
  // No appProtocol on the port: kube-apiserver then fails to reach the aggregated API
  // (kubernetes-sigs/metrics-server#1695).
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels },
    spec: { selector, ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }] },
  };
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels, annotations: kubeScoreIgnores() },
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      strategy: { rollingUpdate: { maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          priorityClassName: 'system-cluster-critical',
          // 65534, the user its image declares (upstream's manifest picks 1000, which collides with host users).
          securityContext: restrictedPodSecurity(),
          tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
          containers: [
            hardenedContainer({
              name,
              image: images.metricsServer,
              args: [
                '--cert-dir=/tmp',
                `--secure-port=${metricsServerPort}`,
                '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
                '--kubelet-use-node-status-port',
                '--metric-resolution=15s',
                ...(options.kubeletTls === 'insecure' ? ['--kubelet-insecure-tls'] : []),
              ],
              ports: [{ name: 'https', containerPort: metricsServerPort, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10, initialDelaySeconds: 20 },
              livenessProbe: { httpGet: { path: '/livez', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10, failureThreshold: 3 },
              resources: resourceRequirements(componentResources.metricsServer, componentEphemeralStorage.metricsServer),
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            }),
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '16Mi' } }],
        },
      },
    },
  };
  const apiService: V1APIService = {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: 'v1beta1.metrics.k8s.io', labels },
    spec: {
      group: 'metrics.k8s.io',
      version: 'v1beta1',
      groupPriorityMinimum: 100,
      versionPriority: 100,
      // metrics-server serves a self-signed certificate from --cert-dir; upstream does the same.
      insecureSkipTLSVerify: true,
      service: { name, namespace, port: 443 },
    },
  };
  return [serviceAccount, aggregatedReader, serverRole, authReader, authDelegator, serverBinding, service, deployment, apiService];
}
