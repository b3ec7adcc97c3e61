import type { V1Node } from '@kubernetes/client-node';
import { UserError } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { labRegistryHost, labRegistryNodeLabel } from './address.ts';

/**
 * Which nodes can pull from the lab registry: those bootstrap configured (labelled). None at all is
 * a cluster tracelab did not bootstrap, where images in the lab registry would only end in
 * ImagePullBackOff: one line up front, before anything is built. Returns the nodes that cannot.
 */
export async function requireNodesPullingFromLabRegistry(kube: KubeClient): Promise<string[]> {
  const nodes = (await kube.list<V1Node>('v1', 'Node')).items;
  const without = nodes.filter((node) => node.metadata?.labels?.[labRegistryNodeLabel] !== 'true').map((node) => node.metadata?.name ?? '');
  if (nodes.length > 0 && without.length === nodes.length) {
    throw new UserError(
      `no node of this cluster can pull from the lab registry (${labRegistryHost}): its containerd is told where the registry is by tracelab bootstrap, which labels such nodes ${labRegistryNodeLabel}=true — run tracelab bootstrap on the nodes, or pass --registry REF (and --pull-secret NAME) for a registry they can pull from`,
    );
  }
  return without;
}
