/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { V1Container, V1Deployment, V1Namespace, V1PodSecurityContext, V1PodSpec, V1ResourceRequirements, V1SecurityContext } from '@kubernetes/client-node';

/** Namespaces are a shared contract (see the README): the demo exports to jaeger-collector.jaeger. */
export const namespaces = {
  jaeger: 'jaeger',
  monitoring: 'monitoring',
  metricsServer: 'kube-system',
} as const;

/**
 * Images pinned by exact tag. Jaeger matches the v1.76.0 (= 2.13.0) binary the tests run;
 * Prometheus matches the promtool the rules are checked with; node-exporter and metrics-server the
 * programs the real-node tests run (testenv/components/versions.env; metrics-server v0.8.1 is not on
 * the Go module proxy).
 */
export const images = {
  jaeger: 'cr.jaegertracing.io/jaegertracing/jaeger:2.13.0',
  prometheus: 'quay.io/prometheus/prometheus:v3.16.0',
  grafana: 'docker.io/grafana/grafana:12.4.0',
  nodeExporter: 'quay.io/prometheus/node-exporter:v1.11.1',
  metricsServer: 'registry.k8s.io/metrics-server/metrics-server:v0.8.0',
} as const;

export const partOf = 'tracelab-monitoring';

/** The recommended labels plus `app`, which the Services select on. */
export function labelsFor(app: string, component: string): Record<string, string> {
  return {
    app,
    'app.kubernetes.io/name': app,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': partOf,
    'app.kubernetes.io/managed-by': 'tracelab',
  };
}

export function selectorFor(app: string): Record<string, string> {
  return { app };
}

/** A namespace enforcing Pod Security "restricted" unless a level is given; the monitoring layer's unless another part-of is. */
export function renderNamespace(name: string, enforce: 'restricted' | 'privileged' = 'restricted', layerPartOf: string = partOf): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        'app.kubernetes.io/part-of': layerPartOf,
        'app.kubernetes.io/managed-by': 'tracelab',
        'pod-security.kubernetes.io/enforce': enforce,
        // Even where enforcement must be relaxed, the audit log flags anything below restricted.
        'pod-security.kubernetes.io/audit': 'restricted',
      },
    },
  };
}

/** Pod Security "restricted" at pod level, running as the given non-root user (default nobody). */
export function restrictedPodSecurity(user = 65534): V1PodSecurityContext {
  return { runAsNonRoot: true, runAsUser: user, runAsGroup: user, fsGroup: user, seccompProfile: { type: 'RuntimeDefault' } };
}

export const restrictedContainerSecurity: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export interface Resources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/** Local disk a container may use: its logs, its writable layer and the pod's emptyDir volumes. */
export interface EphemeralStorage {
  readonly request: string;
  readonly limit: string;
}

/** CPU and memory, plus ephemeral storage: a second argument so that no container goes without it. */
export function resourceRequirements(resources: Resources, storage: EphemeralStorage): V1ResourceRequirements {
  return {
    requests: { ...resources.requests, 'ephemeral-storage': storage.request },
    limits: { ...resources.limits, 'ephemeral-storage': storage.limit },
  };
}

/**
 * Sized for a lab: the whole lab (monitoring + Istio + demo) must request at most 3 vCPU and 6 GiB
 * (`tracelab footprint` checks it). Memory limits sit well above requests because Prometheus and
 * Jaeger grow with the data they keep; retention and max_traces bound that growth. Measured
 * (npm run bench:monitoring): Jaeger plateaus near 280Mi holding 20000 five-span demo traces.
 */
export const componentResources = {
  jaeger: { requests: { cpu: '100m', memory: '320Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
  prometheus: { requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  grafana: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  nodeExporter: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
  metricsServer: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
} as const satisfies Record<string, Resources>;

/**
 * A lab host's disk is small: past its limit the kubelet evicts the one pod rather than let the
 * node fill and evict everything. The kubelet counts the container's logs (it rotates them at
 * 5 × 10Mi by default), its writable layer (read-only here) and the pod's disk-backed emptyDirs,
 * so each limit is the pod's emptyDir size limits plus room for the logs. Prometheus' TSDB volume
 * follows --retention-size: monitoring/prometheus.ts sizes it.
 */
export const componentEphemeralStorage = {
  jaeger: { request: '64Mi', limit: '256Mi' }, // /tmp 64Mi
  grafana: { request: '128Mi', limit: '768Mi' }, // SQLite data 512Mi, /tmp 64Mi
  nodeExporter: { request: '16Mi', limit: '64Mi' }, // logs only
  metricsServer: { request: '16Mi', limit: '128Mi' }, // serving certificate in /tmp 16Mi
} as const satisfies Record<string, EphemeralStorage>;

/** Every container of the layer goes through here, so none lacks hardening or resources. */
export function hardenedContainer(container: V1Container & { resources: V1ResourceRequirements }): V1Container {
  return Object.assign({ imagePullPolicy: 'IfNotPresent' }, container, { securityContext: structuredClone(restrictedContainerSecurity) });
}

/**
 * The kube-score checks a workload skips (`kube-score/ignore`), each one justified in the README's
 * table. Every workload pulls IfNotPresent: an air-gapped lab imports its images into containerd
 * and has no registry to pull them from again, and every image is pinned by exact tag.
 */
export function kubeScoreIgnores(...checks: string[]): Record<string, string> {
  return { 'kube-score/ignore': ['container-image-pull-policy', ...checks].join(',') };
}

/** A short digest of a config file, put in a pod annotation so a config change rolls the pods. */
export function configHash(...texts: string[]): string {
  const hash = createHash('sha256');
  for (const text of texts) hash.update(text);
  return hash.digest('hex').slice(0, 16);
}

/** YAML for config files: plain (no anchors for repeated objects), with a header naming the generator. */
export function generatedYaml(generator: string, value: unknown): string {
  return `# Generated by tracelab ${generator} — do not edit.\n${stringify(value, { aliasDuplicateObjects: false, lineWidth: 0, version: '1.1' })}`;
}

export interface SingletonDeploymentProps {
  readonly app: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /** Port (and path, default /metrics) Prometheus scrapes through the pod annotations. */
  readonly metrics: { readonly port: number; readonly path?: string };
  /** Digest of the rendered config files: a config change rolls the pod. */
  readonly configHash: string;
  readonly podSpec: V1PodSpec;
  /** kube-score checks this workload skips beyond the image pull policy (justified in the README). */
  readonly kubeScoreIgnores?: readonly string[];
}

/**
 * One replica, replaced rather than rolled (Recreate): Jaeger's memory store, Prometheus' TSDB and
 * Grafana's SQLite live in one process each, so two pods at once would split their state.
 */
export function singletonDeployment(props: SingletonDeploymentProps): V1Deployment {
  const { app, namespace, labels, metrics } = props;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app, namespace, labels, annotations: kubeScoreIgnores(...(props.kubeScoreIgnores ?? [])) },
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selectorFor(app) },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(metrics.port),
            'prometheus.io/path': metrics.path ?? '/metrics',
            'tracelab.dev/config-hash': props.configHash,
          },
        },
        spec: props.podSpec,
      },
    },
  };
}
