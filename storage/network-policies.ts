/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { NetworkPolicy } from '../demo/network-policies.ts';
import { nodePorts } from '../monitoring/network-policies.ts';

function policy(namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'tracelab-storage' } }, spec };
}

/**
 * Default deny in and out; the provisioner talks to the API server and nothing else (no DNS: it
 * reaches the API at the `kubernetes` Service's address from its environment). Its helper pods
 * only touch the node's disk: no traffic at all. Ports without a peer, as in the monitoring layer:
 * node addresses are not known when rendering. Enforced only by a CNI that enforces NetworkPolicy.
 */
export function renderStorageNetworkPolicies(namespace: string, provisionerApp: string): NetworkPolicy[] {
  return [
    policy(namespace, 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy(namespace, 'allow-api-server', {
      podSelector: { matchLabels: { app: provisionerApp } },
      policyTypes: ['Egress'],
      egress: [{ ports: nodePorts.apiserver.map((port) => ({ protocol: 'TCP', port })) }],
    }),
  ];
}
