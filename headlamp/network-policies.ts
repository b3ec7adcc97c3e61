/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { NetworkPolicy } from '../demo/network-policies.ts';
import { nodePorts } from '../monitoring/network-policies.ts';
import { headlampContainerPort, headlampNamespace } from './address.ts';

function policy(name: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: headlampNamespace, labels: { 'app.kubernetes.io/part-of': 'tracelab-headlamp' } }, spec };
}

/**
 * Default deny in and out. In: the UI port from anywhere (people through `tracelab ui`'s
 * port-forward, later an ingress). Out: cluster DNS and the API server, which Headlamp calls with
 * the signed-in person's token — the API server's ports without a peer, as monitoring's rules to
 * the nodes do (node addresses are not known when rendering). Enforced only by a CNI that enforces
 * NetworkPolicy (README).
 */
export function renderHeadlampNetworkPolicies(): NetworkPolicy[] {
  return [
    policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('allow-ui-from-anywhere', { podSelector: { matchLabels: { app: 'headlamp' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: headlampContainerPort }] }] }),
    policy('allow-dns', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] }],
    }),
    policy('allow-kubernetes-api', { podSelector: { matchLabels: { app: 'headlamp' } }, policyTypes: ['Egress'], egress: [{ ports: nodePorts.apiserver.map((port) => ({ protocol: 'TCP', port })) }] }),
  ];
}
