/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { KubernetesObject } from '@kubernetes/client-node';
import { meshNamespaces, tracingProvider } from './names.ts';

/** The mesh-wide Telemetry: every proxy reports spans to Jaeger, at the sampling percentage given. */
export function renderTelemetry(sampling: number): KubernetesObject & { spec: unknown } {
  return {
    apiVersion: 'telemetry.istio.io/v1',
    kind: 'Telemetry',
    metadata: { name: 'mesh-default', namespace: meshNamespaces.root },
    spec: { tracing: [{ providers: [{ name: tracingProvider.name }], randomSamplingPercentage: sampling }] },
  };
}

/**
 * What istiod's mesh config needs for it: the provider by name. Envoy then starts a span per hop
 * and sends it over OTLP/gRPC; the trace context travels in the W3C `traceparent` header.
 */
export function meshConfigTracing(): Record<string, unknown> {
  return {
    enableTracing: true,
    extensionProviders: [{ name: tracingProvider.name, opentelemetry: { service: tracingProvider.service, port: tracingProvider.port } }],
  };
}
