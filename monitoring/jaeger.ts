/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import type { KubernetesObject, V1ConfigMap, V1Service } from '@kubernetes/client-node';
import {
  componentEphemeralStorage,
  componentResources,
  configHash,
  generatedYaml,
  hardenedContainer,
  images,
  labelsFor,
  namespaces,
  renderNamespace,
  resourceRequirements,
  restrictedPodSecurity,
  selectorFor,
  singletonDeployment,
} from './common.ts';

/** The listening ports of Jaeger; the cluster uses the defaults, local tests pass free ports. */
export interface JaegerPorts {
  readonly otlpGrpc: number;
  readonly otlpHttp: number;
  readonly queryHttp: number;
  readonly queryGrpc: number;
  readonly health: number;
  readonly metrics: number;
}

export const defaultJaegerPorts: JaegerPorts = {
  otlpGrpc: 4317,
  otlpHttp: 4318,
  queryHttp: 16686,
  queryGrpc: 16685,
  health: 13133,
  metrics: 8888,
};

export interface JaegerConfigOptions {
  /** Upper bound of traces kept in memory; the oldest are evicted first. */
  readonly maxTraces: number;
  readonly ports?: JaegerPorts;
  /** 0.0.0.0 in a pod; 127.0.0.1 for local tests. */
  readonly host?: string;
}

const storeName = 'memstore';

/**
 * The Jaeger v2 (OpenTelemetry Collector) configuration: OTLP in, batch, memory storage with a
 * bound, the query UI/API, a v2 health check and its own metrics for Prometheus. Only the
 * listening addresses vary between the cluster and the local test, so the test proves this file.
 */
export function renderJaegerConfig(options: JaegerConfigOptions): Record<string, unknown> {
  const ports = options.ports ?? defaultJaegerPorts;
  const host = options.host ?? '0.0.0.0';
  const at = (port: number): string => `${host}:${port}`;
  return {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query', 'healthcheckv2'],
      pipelines: {
        traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] },
      },
      telemetry: {
        resource: { 'service.name': 'jaeger' },
        metrics: { level: 'basic', readers: [{ pull: { exporter: { prometheus: { host, port: ports.metrics } } } }] },
        logs: { level: 'info' },
      },
    },
    extensions: {
      jaeger_storage: { backends: { [storeName]: { memory: { max_traces: options.maxTraces } } } },
      jaeger_query: {
        storage: { traces: storeName },
        http: { endpoint: at(ports.queryHttp) },
        grpc: { endpoint: at(ports.queryGrpc) },
        // Jaeger tracing itself would add its own spans to every lab trace listing.
        enable_tracing: false,
      },
      healthcheckv2: {
        use_v2: true,
        http: { endpoint: at(ports.health), status: { enabled: true, path: '/status' } },
      },
    },
    receivers: {
      otlp: { protocols: { grpc: { endpoint: at(ports.otlpGrpc) }, http: { endpoint: at(ports.otlpHttp) } } },
    },
    processors: { batch: {} },
    exporters: { jaeger_storage_exporter: { trace_storage: storeName } },
  };
}

export function renderJaegerConfigYaml(options: JaegerConfigOptions): string {
  return generatedYaml('monitoring/jaeger.ts', renderJaegerConfig(options));
}

export interface JaegerOptions {
  readonly maxTraces: number;
}

const app = 'jaeger';

export function renderJaeger(options: JaegerOptions): KubernetesObject[] {
  const namespace = namespaces.jaeger;
  const ports = defaultJaegerPorts;
  const labels = labelsFor(app, 'tracing');
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'jaeger-config', namespace, labels },
    data: { 'config.yaml': renderJaegerConfigYaml({ maxTraces: options.maxTraces }) },
  };
  const deployment = singletonDeployment({
    app,
    namespace,
    labels,
    metrics: { port: ports.metrics },
    configHash: configHash(configMap.data?.['config.yaml'] ?? ''),
    podSpec: {
      automountServiceAccountToken: false,
      securityContext: restrictedPodSecurity(),
      containers: [
        hardenedContainer({
          name: 'jaeger',
          image: images.jaeger,
          args: ['--config', '/etc/jaeger/config.yaml'],
          ports: [
            { name: 'otlp-grpc', containerPort: ports.otlpGrpc },
            { name: 'otlp-http', containerPort: ports.otlpHttp },
            { name: 'http-query', containerPort: ports.queryHttp },
            { name: 'grpc-query', containerPort: ports.queryGrpc },
            { name: 'health', containerPort: ports.health },
            { name: 'metrics', containerPort: ports.metrics },
          ],
          // Ready when its pipeline reports healthy; alive while its health server accepts
          // connections: a restart does not cure a component that is merely unhealthy.
          readinessProbe: { httpGet: { path: '/status', port: 'health' }, periodSeconds: 5 },
          livenessProbe: { tcpSocket: { port: 'health' }, periodSeconds: 15, failureThreshold: 4 },
          resources: resourceRequirements(componentResources.jaeger, componentEphemeralStorage.jaeger),
          volumeMounts: [
            { name: 'config', mountPath: '/etc/jaeger', readOnly: true },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        }),
      ],
      volumes: [
        { name: 'config', configMap: { name: 'jaeger-config' } },
        { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
      ],
    },
  });
  const collector: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'jaeger-collector', namespace, labels },
    spec: {
      selector: selectorFor(app),
      ports: [
        { name: 'otlp-grpc', port: ports.otlpGrpc, targetPort: 'otlp-grpc', appProtocol: 'grpc' },
        { name: 'otlp-http', port: ports.otlpHttp, targetPort: 'otlp-http', appProtocol: 'http' },
      ],
    },
  };
  const query: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'jaeger-query', namespace, labels },
    spec: {
      selector: selectorFor(app),
      ports: [
        { name: 'http-query', port: ports.queryHttp, targetPort: 'http-query', appProtocol: 'http' },
        { name: 'grpc-query', port: ports.queryGrpc, targetPort: 'grpc-query', appProtocol: 'grpc' },
      ],
    },
  };
  return [renderNamespace(namespace), configMap, deployment, collector, query];
}
