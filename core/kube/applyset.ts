import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { groupKindOf, layerLabel, managedByLabel, managedByValue, refOf } from './objects.ts';

/**
 * Each layer's membership is a kubectl-compatible ApplySet: a parent ConfigMap in kube-system
 * (a namespace that always exists, so the record outlives the layer's own namespaces) lists the
 * group-kinds and namespaces the layer has applied; every member carries the part-of label.
 * Prune and teardown list exactly those kinds by that label.
 */
export const applySetNamespace = 'kube-system';
export const partOfLabel = 'applyset.kubernetes.io/part-of';
export const idLabel = 'applyset.kubernetes.io/id';
export const toolingAnnotation = 'applyset.kubernetes.io/tooling';
export const groupKindsAnnotation = 'applyset.kubernetes.io/contains-group-kinds';
export const namespacesAnnotation = 'applyset.kubernetes.io/additional-namespaces';
export const tooling = 'tracelab/v1';

export function applySetParentName(layer: string): string {
  return `tracelab-layer-${layer}`;
}

/** The ApplySet id as kubectl computes it: base64url(sha256(name.namespace.kind.group)), unpadded. */
export function applySetId(layer: string): string {
  const digest = createHash('sha256').update(`${applySetParentName(layer)}.${applySetNamespace}.ConfigMap.`).digest('base64url');
  return `applyset-${digest}-v1`;
}

export interface ApplySetRecord {
  readonly groupKinds: string[];
  readonly namespaces: string[];
}

export function recordOf(objects: readonly KubernetesObject[]): ApplySetRecord {
  const groupKinds = new Set<string>();
  const namespaces = new Set<string>();
  for (const object of objects) {
    const ref = refOf(object);
    groupKinds.add(groupKindOf(ref));
    if (ref.namespace !== undefined && ref.namespace !== applySetNamespace) namespaces.add(ref.namespace);
  }
  return { groupKinds: [...groupKinds].sort(), namespaces: [...namespaces].sort() };
}

export function unionRecords(a: ApplySetRecord, b: ApplySetRecord): ApplySetRecord {
  return {
    groupKinds: [...new Set([...a.groupKinds, ...b.groupKinds])].sort(),
    namespaces: [...new Set([...a.namespaces, ...b.namespaces])].sort(),
  };
}

interface ApplySetParent {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
}

export function renderApplySetParent(layer: string, record: ApplySetRecord): ApplySetParent {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: applySetParentName(layer),
      namespace: applySetNamespace,
      labels: { [idLabel]: applySetId(layer), [managedByLabel]: managedByValue, [layerLabel]: layer },
      annotations: {
        [toolingAnnotation]: tooling,
        [groupKindsAnnotation]: record.groupKinds.join(','),
        [namespacesAnnotation]: record.namespaces.join(','),
      },
    },
  };
}

export function readRecord(parent: KubernetesObject | undefined): ApplySetRecord {
  const annotations = parent?.metadata?.annotations ?? {};
  const split = (value: string | undefined): string[] => (value ?? '').split(',').filter((item) => item !== '');
  return { groupKinds: split(annotations[groupKindsAnnotation]), namespaces: split(annotations[namespacesAnnotation]) };
}
