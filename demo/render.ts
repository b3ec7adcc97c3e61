/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type {
  KubernetesObject,
  V1Deployment,
  V1EnvVar,
  V1Namespace,
  V1PodDisruptionBudget,
  V1Service,
  V1ServiceAccount,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { restrictedContainerSecurity } from '../monitoring/common.ts';
import { renderDemoNetworkPolicies } from './network-policies.ts';
import { demoServices, type DemoOptions, type DemoService } from './options.ts';

/** Shared contracts: the port every service listens on and where traces go. */
export const servicePort = 8080;
export const otlpEndpoint = 'http://jaeger-collector.jaeger.svc.cluster.local:4318';
export const serviceVersion = 'v1';
const runAsUser = 10001;

/**
 * kube-score checks the demo's Deployments skip, each justified in the README's table: images
 * are pinned (built by digest or given by exact reference) and an air-gapped lab has no registry
 * to pull them from again; the replica count is the one at creation only — the deploy engine
 * then sends the live count, so the HPA owns it (core/kube/apply.ts).
 */
const kubeScoreIgnores = ['container-image-pull-policy', 'deployment-targeted-by-hpa-does-not-have-replicas-configured'];

/** On the pods while the mesh layer is installed: its appearance or removal rolls them, adding or removing the sidecar. */
export const meshedAnnotation = 'tracelab.dev/meshed';

function labelsOf(service: DemoService): Record<string, string> {
  return { app: service, 'app.kubernetes.io/name': service, 'app.kubernetes.io/part-of': 'tracelab-demo', version: serviceVersion };
}

/** Sidecar injection on, Pod Security `restricted` enforced (and warned and audited). */
export function renderNamespace(options: DemoOptions): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: options.namespace,
      labels: {
        'istio-injection': 'enabled',
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      },
    },
  };
}

export function renderServiceAccount(service: DemoService, options: DemoOptions): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: service, namespace: options.namespace, labels: labelsOf(service) },
    // The services never call the Kubernetes API.
    automountServiceAccountToken: false,
  };
}

export function renderService(service: DemoService, options: DemoOptions): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: service, namespace: options.namespace, labels: labelsOf(service) },
    spec: {
      selector: { app: service },
      // The `http` name (and appProtocol) tells Istio the protocol.
      ports: [{ name: 'http', port: servicePort, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }],
    },
  };
}

function fieldRef(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

export function renderEnv(service: DemoService, options: DemoOptions): V1EnvVar[] {
  const env: V1EnvVar[] = [
    { name: 'PORT', value: String(servicePort) },
    fieldRef('POD_NAME', 'metadata.name'),
    fieldRef('POD_NAMESPACE', 'metadata.namespace'),
    fieldRef('NODE_NAME', 'spec.nodeName'),
    { name: 'OTEL_SERVICE_NAME', value: service },
    { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint },
    { name: 'OTEL_PROPAGATORS', value: 'tracecontext,baggage' },
    {
      name: 'OTEL_RESOURCE_ATTRIBUTES',
      value: `service.version=${serviceVersion},k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE),k8s.node.name=$(NODE_NAME)`,
    },
  ];
  if (service === 'frontend') env.push({ name: 'BACKEND_URL', value: `http://backend:${servicePort}` });
  if (service === 'backend') {
    const knobs: [string, number | undefined][] = [
      ['BACKEND_LATENCY_MS', options.backendLatencyMs],
      ['BACKEND_CPU_MS', options.backendCpuMs],
      ['BACKEND_ERROR_RATE', options.backendErrorRate],
    ];
    for (const [name, value] of knobs) if (value !== undefined) env.push({ name, value: String(value) });
  }
  return env;
}

export function renderDeployment(service: DemoService, options: DemoOptions): V1Deployment {
  const labels = labelsOf(service);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: service, namespace: options.namespace, labels, annotations: { 'kube-score/ignore': kubeScoreIgnores.join(',') } },
    spec: {
      replicas: options.replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: { app: service } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(servicePort),
            'prometheus.io/path': '/metrics',
            ...(options.meshed ? { [meshedAnnotation]: 'true' } : {}),
          },
        },
        spec: {
          serviceAccountName: service,
          automountServiceAccountToken: false,
          ...(options.pullSecret === undefined ? {} : { imagePullSecrets: [{ name: options.pullSecret }] }),
          securityContext: {
            runAsNonRoot: true,
            runAsUser,
            runAsGroup: runAsUser,
            fsGroup: runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          terminationGracePeriodSeconds: 30,
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: service } } },
          ],
          containers: [
            {
              name: 'server',
              image: options.images[service],
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: servicePort, protocol: 'TCP' }],
              env: renderEnv(service, options),
              // Disk: /tmp (64Mi) and the kubelet's rotated logs (5 × 10Mi); past it the pod is evicted, not the node filled.
              resources: {
                requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '64Mi' },
                limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '256Mi' },
              },
              securityContext: structuredClone(restrictedContainerSecurity),
              startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 30 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, failureThreshold: 2 },
              // Keep serving while endpoints (and the sidecar) drop this pod, then get SIGTERM.
              // The sleep action needs no shell in the image.
              lifecycle: { preStop: { sleep: { seconds: 5 } } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

export function renderHorizontalPodAutoscaler(service: DemoService, options: DemoOptions): V2HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: service, namespace: options.namespace, labels: labelsOf(service) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: service },
      minReplicas: options.replicas,
      maxReplicas: Math.max(5, options.replicas),
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      // A lab shows scaling back down within minutes (`loadtest ramp`): 60 s of lower readings
      // instead of the default 300 s, then at most half the pods per 15 s.
      behavior: { scaleDown: { stabilizationWindowSeconds: 60, policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }] } },
    },
  };
}

export function renderPodDisruptionBudget(service: DemoService, options: DemoOptions): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: service, namespace: options.namespace, labels: labelsOf(service) },
    // maxUnavailable (not minAvailable) so that a single replica can still be drained.
    spec: { maxUnavailable: 1, selector: { matchLabels: { app: service } } },
  };
}

/** Everything the demo layer runs: its namespace, per service its identity, Service, workload and policies, then its NetworkPolicies. */
export function renderDemo(options: DemoOptions): KubernetesObject[] {
  return [
    renderNamespace(options),
    ...demoServices.flatMap((service) => [
      renderServiceAccount(service, options),
      renderService(service, options),
      renderDeployment(service, options),
      renderHorizontalPodAutoscaler(service, options),
      renderPodDisruptionBudget(service, options),
    ]),
    ...renderDemoNetworkPolicies(options, servicePort),
  ];
}
