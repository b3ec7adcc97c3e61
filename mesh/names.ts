import { namespaces as monitoringNamespaces } from '../monitoring/common.ts';
import { defaultJaegerPorts } from '../monitoring/jaeger.ts';

/**
 * Where the mesh lives. istiod and the ingress gateway run in Istio's root namespace under Pod
 * Security `restricted`; the istio-cni node agent, which writes the CNI plugin onto each node,
 * needs host paths and privileges, so it has a namespace of its own at `privileged`.
 */
export const meshNamespaces = { root: 'istio-system', cni: 'istio-cni' } as const;

/** istiod's pods and the port sidecars fetch their config and certificates from (xDS and CA over TLS). */
export const istiod = { namespace: meshNamespaces.root, app: 'istiod', xdsPort: 15012 } as const;

/** The ingress gateway as istioctl names it: its pods' label and its ServiceAccount (the caller frontend allows). */
export const ingressGateway = { name: 'istio-ingressgateway', selector: { istio: 'ingressgateway' }, serviceAccount: 'istio-ingressgateway-service-account' } as const;

/** The extension provider the proxies send spans to: Jaeger's OTLP/gRPC receiver. */
export const tracingProvider = {
  name: 'jaeger',
  service: `jaeger-collector.${monitoringNamespaces.jaeger}.svc.cluster.local`,
  port: defaultJaegerPorts.otlpGrpc,
} as const;

/** The demo's Services as the mesh addresses them. */
export function demoHost(service: 'frontend' | 'backend', demoNamespace: string): string {
  return `${service}.${demoNamespace}.svc.cluster.local`;
}

/** A workload's SPIFFE identity as AuthorizationPolicy `principals` spell it. */
export function principalOf(namespace: string, serviceAccount: string): string {
  return `cluster.local/ns/${namespace}/sa/${serviceAccount}`;
}
