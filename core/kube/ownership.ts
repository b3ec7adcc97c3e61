import type { KubernetesObject } from '@kubernetes/client-node';
import { applySetId, partOfLabel } from './applyset.ts';
import { fieldManagerFor, layerLabel } from './objects.ts';

/**
 * Whose an object is. A layer's own object carries its ApplySet `part-of` label and has been
 * server-side applied by its field manager; a label alone (a copy made with kubectl) is not enough.
 */
export type Ownership =
  | { readonly kind: 'ours' }
  | { readonly kind: 'another-layer'; readonly layer: string }
  | { readonly kind: 'foreign'; readonly managers: readonly string[] };

export function managersOf(object: KubernetesObject): string[] {
  return [...new Set((object.metadata?.managedFields ?? []).map((entry) => entry.manager ?? '?'))].sort();
}

export function appliedBy(object: KubernetesObject, layer: string): boolean {
  return (object.metadata?.managedFields ?? []).some((entry) => entry.manager === fieldManagerFor(layer) && entry.operation === 'Apply');
}

export function ownershipOf(object: KubernetesObject, layer: string): Ownership {
  const labels = object.metadata?.labels ?? {};
  const partOf = labels[partOfLabel];
  if (partOf === applySetId(layer) && appliedBy(object, layer)) return { kind: 'ours' };
  const otherLayer = labels[layerLabel];
  if (partOf !== undefined && otherLayer !== undefined && otherLayer !== layer && partOf === applySetId(otherLayer) && appliedBy(object, otherLayer)) {
    return { kind: 'another-layer', layer: otherLayer };
  }
  return { kind: 'foreign', managers: managersOf(object) };
}

/** `kubectl-client-side-apply, helm`, or `no field manager` for objects made before managed fields. */
export function describeManagers(managers: readonly string[]): string {
  return managers.length === 0 ? 'no field manager' : managers.join(', ');
}

/** Managers Kubernetes itself writes with: an object only they touched was made by the cluster. */
const clusterManagers = new Set(['kube-controller-manager', 'kube-apiserver', 'kube-scheduler', 'kubelet']);

/**
 * Objects Kubernetes makes in every namespace or on behalf of another object: they go with the
 * namespace and nobody made them by hand (the `default` ServiceAccount and `kube-root-ca.crt`,
 * which the controllers write without managed fields; Endpoints, Events, anything with an owner).
 * Whatever kubectl, Helm or a person's client creates has a field manager. `layerPrograms` are the
 * field managers of the programs a layer runs (istiod's `pilot-discovery`): what they made in the
 * layer's namespaces is the layer's own state and goes with them.
 */
export function madeByKubernetes(object: KubernetesObject, layerPrograms: readonly string[] = []): boolean {
  if ((object.metadata?.ownerReferences ?? []).length > 0) return true;
  if (object.kind === 'Event') return true;
  return managersOf(object).every((manager) => clusterManagers.has(manager) || layerPrograms.includes(manager));
}
