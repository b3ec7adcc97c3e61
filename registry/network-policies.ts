/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { NetworkPolicy } from '../demo/network-policies.ts';
import { registryNamespace, registryPort } from './address.ts';

/** Prometheus scrapes the registry's metrics on this port. */
export const registryDebugPort = 5001;

function policy(name: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: registryNamespace, labels: { 'app.kubernetes.io/part-of': 'tracelab-registry' } }, spec };
}

/**
 * Default deny in and out: the registry calls nothing (no DNS either). In: the registry port from
 * anywhere — every node's containerd through the NodePort, the build pods, the API server's proxy
 * — and its metrics from Prometheus. Enforced only by a CNI that enforces NetworkPolicy (README).
 */
export function renderRegistryNetworkPolicies(): NetworkPolicy[] {
  return [
    policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('allow-registry-from-anywhere', { podSelector: { matchLabels: { app: 'registry' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: registryPort }] }] }),
    policy('allow-scrapes-from-prometheus', {
      podSelector: { matchLabels: { app: 'registry' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } }],
          ports: [{ protocol: 'TCP', port: registryDebugPort }],
        },
      ],
    }),
  ];
}
