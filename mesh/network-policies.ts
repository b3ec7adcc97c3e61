/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { V1NetworkPolicyPeer, V1NetworkPolicyPort } from '@kubernetes/client-node';
import type { NetworkPolicy } from '../demo/network-policies.ts';
import { servicePort } from '../demo/render.ts';
import { namespaces as monitoringNamespaces } from '../monitoring/common.ts';
import { defaultJaegerPorts } from '../monitoring/jaeger.ts';
import { nodePorts } from '../monitoring/network-policies.ts';
import { kiali } from './kiali.ts';
import { istiod, meshNamespaces, tracingProvider } from './names.ts';
import { gatewayListenPort } from './traffic.ts';

/** istiod's ports: plaintext and TLS xDS (15010, 15012), the webhooks (15017), its metrics (15014). */
const istiodPorts = { xdsPlain: 15010, webhooks: 15017, metrics: 15014 } as const;
/** The CNI agent's metrics port. */
const cniMetricsPort = 15014;

const tcp = (port: number): V1NetworkPolicyPort => ({ protocol: 'TCP', port });
const app = (name: string): { matchLabels: Record<string, string> } => ({ matchLabels: { app: name } });
const inNamespace = (namespace: string, pods: { matchLabels: Record<string, string> }): V1NetworkPolicyPeer => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  podSelector: pods,
});
const coreDns = inNamespace('kube-system', { matchLabels: { 'k8s-app': 'kube-dns' } });
const prometheus = inNamespace(monitoringNamespaces.monitoring, app('prometheus'));
const jaeger = inNamespace(monitoringNamespaces.jaeger, app('jaeger'));
const dns = { to: [coreDns], ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] };
/** The API server, by port: node addresses are not known at render time (as in monitoring/network-policies.ts). */
const apiServer = { ports: nodePorts.apiserver.map(tcp) };

function policy(name: string, namespace: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'tracelab-mesh' } }, spec };
}

/**
 * Default deny in and out of `istio-system` and `istio-cni`, then the mesh's flows: sidecars
 * anywhere to istiod (xDS and certificates), the API server to istiod's webhooks, istiod to the API
 * server; the gateway from anywhere on its listener, to frontend, istiod and Jaeger; Kiali from
 * anywhere (a port-forward) to Prometheus, Jaeger's query API and the API server; Prometheus to
 * the metrics ports; the CNI agent to the API server. Enforced only by a CNI that enforces them.
 */
export function renderMeshNetworkPolicies(options: { demoNamespace: string; kiali: boolean }): NetworkPolicy[] {
  const root = meshNamespaces.root;
  const policies = [
    policy('default-deny', root, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('allow-dns', root, { podSelector: {}, policyTypes: ['Egress'], egress: [dns] }),
    policy('allow-istiod', root, {
      podSelector: app(istiod.app),
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        // Sidecars and gateways in any namespace; the API server calling the webhooks from the host network.
        { ports: [tcp(istiod.xdsPort), tcp(istiodPorts.xdsPlain), tcp(istiodPorts.webhooks)] },
        { from: [prometheus], ports: [tcp(istiodPorts.metrics)] },
      ],
      egress: [apiServer],
    }),
    policy('allow-ingress-gateway', root, {
      podSelector: { matchLabels: { istio: 'ingressgateway' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [tcp(gatewayListenPort)] }, { from: [prometheus], ports: [tcp(15020), tcp(15090)] }],
      egress: [
        { to: [{ podSelector: app(istiod.app) }], ports: [tcp(istiod.xdsPort)] },
        { to: [inNamespace(options.demoNamespace, app('frontend'))], ports: [tcp(servicePort)] },
        { to: [jaeger], ports: [tcp(tracingProvider.port)] },
      ],
    }),
    policy('default-deny', meshNamespaces.cni, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('allow-cni-agent', meshNamespaces.cni, {
      podSelector: { matchLabels: { 'k8s-app': 'istio-cni-node' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [prometheus], ports: [tcp(cniMetricsPort)] }],
      egress: [apiServer],
    }),
  ];
  if (options.kiali) {
    policies.push(
      policy('allow-kiali', root, {
        podSelector: app(kiali.name),
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ ports: [tcp(kiali.port)] }, { from: [prometheus], ports: [tcp(kiali.metricsPort)] }],
        egress: [apiServer, { to: [prometheus], ports: [tcp(9090)] }, { to: [jaeger], ports: [tcp(defaultJaegerPorts.queryHttp)] }, { to: [{ podSelector: app(istiod.app) }], ports: [tcp(istiodPorts.metrics), tcp(istiodPorts.xdsPlain)] }],
      }),
    );
  }
  return policies;
}
