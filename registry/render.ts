/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { KubernetesObject, V1ConfigMap, V1Deployment, V1Namespace, V1PersistentVolumeClaim, V1Service, V1Volume } from '@kubernetes/client-node';
import { configHash, generatedYaml, restrictedContainerSecurity, restrictedPodSecurity } from '../monitoring/common.ts';
import { registryNamespace, registryNodePort, registryPort } from './address.ts';
import { registryDebugPort as debugPort, renderRegistryNetworkPolicies } from './network-policies.ts';
import type { RegistryOptions } from './options.ts';

/** distribution v3, the program the tests build from github.com/distribution/distribution/v3 at the same version. */
export const registryImage = 'docker.io/library/registry:3.1.2';

const name = 'registry';
const dataDir = '/var/lib/registry';
const labels = { app: name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'tracelab-registry', 'app.kubernetes.io/managed-by': 'tracelab' };

/** The registry's config file: filesystem storage, deletes allowed (so old builds can be cleaned), metrics on the debug port. */
export function registryConfig(): string {
  return generatedYaml('registry', {
    version: 0.1,
    log: { level: 'info', formatter: 'text' },
    storage: {
      filesystem: { rootdirectory: dataDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: true, age: '24h', interval: '1h', dryrun: false } },
    },
    http: { addr: `:${String(registryPort)}`, debug: { addr: `:${String(debugPort)}`, prometheus: { enabled: true, path: '/metrics' } } },
    health: { storagedriver: { enabled: true, interval: '10s', threshold: 3 } },
  });
}

/** The registry's namespace, Pod Security `restricted`. */
function renderNamespace(): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: registryNamespace,
      labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
    },
  };
}

function renderConfigMap(): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'registry-config', namespace: registryNamespace, labels }, data: { 'config.yml': registryConfig() } };
}

function renderClaim(options: RegistryOptions): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'registry-data', namespace: registryNamespace, labels },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: options.storageSize } } },
  };
}

function dataVolume(options: RegistryOptions): V1Volume {
  return options.storage === 'pod' ? { name: 'data', emptyDir: { sizeLimit: options.storageSize } } : { name: 'data', persistentVolumeClaim: { claimName: 'registry-data' } };
}

/**
 * The kubelet evicts a pod whose emptyDirs and logs outgrow its containers' ephemeral-storage
 * limits together: with the blobs in the pod, the limit is their size plus room for logs.
 */
function ephemeralLimit(options: RegistryOptions): string {
  if (options.storage !== 'pod') return '256Mi';
  const match = /^(\d+)(Mi|Gi|Ti)$/.exec(options.storageSize);
  const mebibytes = Number(match?.[1] ?? 0) * ({ Mi: 1, Gi: 1024, Ti: 1024 * 1024 }[match?.[2] ?? 'Mi'] ?? 1);
  return `${String(mebibytes + 256)}Mi`;
}

function renderDeployment(options: RegistryOptions): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    // The image is pinned; an air-gapped lab has nowhere to pull it again (README, kube-score).
    metadata: { name, namespace: registryNamespace, labels, annotations: { 'kube-score/ignore': 'container-image-pull-policy' } },
    spec: {
      replicas: 1,
      // One writer of the volume at a time.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(debugPort),
            'prometheus.io/path': '/metrics',
            'tracelab.dev/config-hash': configHash(registryConfig()),
          },
        },
        spec: {
          automountServiceAccountToken: false,
          securityContext: restrictedPodSecurity(),
          containers: [
            {
              name,
              image: registryImage,
              imagePullPolicy: 'IfNotPresent',
              command: ['registry', 'serve', '/etc/distribution/config.yml'],
              // distribution v3 exports traces by default; the lab's registry is not part of the demo's traces.
              env: [{ name: 'OTEL_TRACES_EXPORTER', value: 'none' }],
              ports: [
                { name: 'registry', containerPort: registryPort, protocol: 'TCP' },
                { name: 'debug', containerPort: debugPort, protocol: 'TCP' },
              ],
              resources: { requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '64Mi' }, limits: { cpu: '1', memory: '256Mi', 'ephemeral-storage': ephemeralLimit(options) } },
              securityContext: structuredClone(restrictedContainerSecurity),
              readinessProbe: { httpGet: { path: '/v2/', port: 'registry' }, periodSeconds: 5, failureThreshold: 2 },
              livenessProbe: { httpGet: { path: '/debug/health', port: 'debug' }, periodSeconds: 10, failureThreshold: 3 },
              volumeMounts: [
                { name: 'data', mountPath: dataDir },
                { name: 'config', mountPath: '/etc/distribution', readOnly: true },
              ],
            },
          ],
          volumes: [dataVolume(options), { name: 'config', configMap: { name: 'registry-config' } }],
        },
      },
    },
  };
}

/** NodePort, so that every node's containerd reaches it at its own address (see address.ts). */
function renderService(): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: registryNamespace, labels },
    spec: {
      type: 'NodePort',
      selector: { app: name },
      ports: [{ name: 'registry', port: registryPort, targetPort: 'registry', nodePort: registryNodePort, protocol: 'TCP' }],
    },
  };
}

/** The lab registry: its namespace, config, storage, the registry and its NodePort Service, its NetworkPolicies. */
export function renderRegistry(options: RegistryOptions): KubernetesObject[] {
  return [renderNamespace(), renderConfigMap(), ...(options.storage === 'pod' ? [] : [renderClaim(options)]), renderDeployment(options), renderService(), ...renderRegistryNetworkPolicies()];
}
