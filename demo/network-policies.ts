/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { V1NetworkPolicy, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer, V1NetworkPolicyPort, V1NetworkPolicySpec } from '@kubernetes/client-node';
import { istiod } from '../mesh/names.ts';
import type { DemoOptions } from './options.ts';

/** client-node spells an ingress rule's `from` as `_from`; the API, and so these plain objects, say `from`. */
type IngressRule = Omit<V1NetworkPolicyIngressRule, '_from'> & { from?: V1NetworkPolicyPeer[] };
export type NetworkPolicy = Omit<V1NetworkPolicy, 'spec'> & { spec: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress?: IngressRule[] } };

/**
 * The observability layer's pods the demo talks to or is scraped by: a shared contract with
 * monitoring/ (namespaces and `app` labels; test/demo/network-policies.test.ts holds both to it).
 */
export const observabilityPods = {
  jaeger: { namespace: 'jaeger', app: 'jaeger' },
  prometheus: { namespace: 'monitoring', app: 'prometheus' },
} as const;

/** OTLP gRPC and HTTP on the Jaeger collector. */
export const otlpPorts = [4317, 4318] as const;
/** Istio's merged app + sidecar metrics, which Prometheus scrapes once the mesh injects sidecars. */
export const istioMetricsPort = 15020;

const tcp = (port: number): V1NetworkPolicyPort => ({ protocol: 'TCP', port });
const podsOf = (pods: { namespace: string; app: string }): V1NetworkPolicyPeer => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': pods.namespace } },
  podSelector: { matchLabels: { app: pods.app } },
});
const coreDns: V1NetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

function policy(name: string, options: DemoOptions, spec: NetworkPolicy['spec']): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: options.namespace, labels: { 'app.kubernetes.io/part-of': 'tracelab-demo' } },
    spec,
  };
}

/**
 * Default deny in and out of the demo's namespace, then one policy per flow the demo needs.
 * Only a CNI that enforces NetworkPolicy (Calico, Cilium) applies them; Flannel and the bridge
 * plugin accept and ignore them (README, NetworkPolicies). The kubelet's probes come from the
 * node, which these CNIs always let through. `servicePort` is the port every demo service listens on.
 */
export function renderDemoNetworkPolicies(options: DemoOptions, servicePort: number): NetworkPolicy[] {
  return [
    policy('default-deny', options, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    // Every pod resolves Service names (backend, jaeger-collector.jaeger) through CoreDNS.
    policy('allow-dns', options, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [coreDns], ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] }],
    }),
    // The entry point: reachable from anywhere, today through a port-forward or NodePort, later an Istio ingress.
    policy('allow-frontend-from-anywhere', options, {
      podSelector: { matchLabels: { app: 'frontend' } },
      policyTypes: ['Ingress'],
      ingress: [{ ports: [tcp(servicePort)] }],
    }),
    policy('allow-frontend-to-backend', options, {
      podSelector: { matchLabels: { app: 'frontend' } },
      policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'backend' } } }], ports: [tcp(servicePort)] }],
    }),
    policy('allow-backend-from-frontend', options, {
      podSelector: { matchLabels: { app: 'backend' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [tcp(servicePort)] }],
    }),
    policy('allow-otlp-to-jaeger', options, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [podsOf(observabilityPods.jaeger)], ports: otlpPorts.map(tcp) }],
    }),
    // With the mesh layer, each pod's sidecar gets its config and certificate from istiod.
    policy('allow-sidecars-to-istiod', options, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [podsOf({ namespace: istiod.namespace, app: istiod.app })], ports: [tcp(istiod.xdsPort)] }],
    }),
    policy('allow-scrapes-from-prometheus', options, {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [podsOf(observabilityPods.prometheus)], ports: [tcp(servicePort), tcp(istioMetricsPort)] }],
    }),
  ];
}
