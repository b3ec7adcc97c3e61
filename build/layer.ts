/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { V1Namespace } from '@kubernetes/client-node';
import { UserError } from '../core/errors.ts';
import type { Layer } from '../core/layer.ts';
import type { NetworkPolicy } from '../demo/network-policies.ts';
import { buildNamespace } from '../registry/address.ts';

/** The build pods' namespace: `privileged` enforced (BuildKit mounts and unshares), `restricted` audited and warned. */
export function renderBuildNamespace(): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: buildNamespace,
      labels: {
        'app.kubernetes.io/part-of': 'tracelab-builds',
        'app.kubernetes.io/managed-by': 'tracelab',
        'pod-security.kubernetes.io/enforce': 'privileged',
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
      },
    },
  };
}

/**
 * Nothing calls a build pod (its context arrives through the API server's attach): every ingress
 * denied. Egress stays open: a build pulls its base image and pushes to whichever registry it is
 * given, which may be anywhere.
 */
export function renderBuildNetworkPolicy(): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'deny-ingress', namespace: buildNamespace, labels: { 'app.kubernetes.io/part-of': 'tracelab-builds' }, annotations: { 'kube-score/ignore': 'networkpolicy-targets-pod' } },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  };
}

/**
 * The namespace in-cluster builds run in, whichever registry they push to. Bootstrap installs it;
 * deploy:demo makes it where it is missing when a build is due.
 */
export const buildsLayer: Layer<Record<string, never>> = {
  name: 'builds',
  description: 'the namespace in-cluster image builds run in (Pod Security privileged enforced, restricted audited)',
  namespaces: [buildNamespace],
  installedByBootstrap: true,
  parseOptions(raw) {
    const keys = Object.keys(raw);
    if (keys.length > 0) throw new UserError(`unknown option --${keys[0] ?? ''} for the builds layer — it takes none`);
    return {};
  },
  render: () => [renderBuildNamespace(), renderBuildNetworkPolicy()],
};
