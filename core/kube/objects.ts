import type { KubernetesObject } from '@kubernetes/client-node';
import type { ObjectRef } from './client.ts';

export const managedByLabel = 'app.kubernetes.io/managed-by';
export const managedByValue = 'tracelab';
export const layerLabel = 'tracelab.dev/layer';

export function fieldManagerFor(layer: string): string {
  return `tracelab-${layer}`;
}

export function refOf(object: KubernetesObject): ObjectRef {
  const name = object.metadata?.name;
  if (object.apiVersion === undefined || object.kind === undefined || name === undefined) {
    throw new Error(`an object lacks apiVersion, kind or metadata.name: ${JSON.stringify(object).slice(0, 200)}`);
  }
  return { apiVersion: object.apiVersion, kind: object.kind, name, namespace: object.metadata?.namespace };
}

/** `Deployment tracelab-demo/backend`, `Namespace tracelab-demo`: how objects are named in every message. */
export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace === undefined ? '' : `${ref.namespace}/`}${ref.name}`;
}

export function describeObject(object: KubernetesObject): string {
  return describeRef(refOf(object));
}

export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
}

/** `Deployment.apps`, `Namespace` — the group-kind notation of ApplySets. */
export function groupKindOf(ref: { apiVersion: string; kind: string }): string {
  const group = groupOf(ref.apiVersion);
  return group === '' ? ref.kind : `${ref.kind}.${group}`;
}

/** Identity of an object regardless of apiVersion (autoscaling/v1 and v2 name the same HPA). */
export function keyOf(ref: ObjectRef): string {
  return `${groupKindOf(ref)}|${ref.namespace ?? ''}|${ref.name}`;
}

/**
 * Dependency tiers: everything in a tier may be applied at once; a tier waits for the one before.
 * Namespaces first, CRDs (then waited on until Established), RBAC and identities, config,
 * Services, workloads, policies on workloads, then any custom resource.
 */
const tierOfKind: Readonly<Record<string, number>> = {
  Namespace: 0,
  CustomResourceDefinition: 1,
  PriorityClass: 2,
  StorageClass: 2,
  ServiceAccount: 2,
  ClusterRole: 2,
  Role: 2,
  ClusterRoleBinding: 3,
  RoleBinding: 3,
  ConfigMap: 4,
  Secret: 4,
  PersistentVolume: 4,
  PersistentVolumeClaim: 4,
  LimitRange: 4,
  ResourceQuota: 4,
  Service: 5,
  Deployment: 6,
  DaemonSet: 6,
  StatefulSet: 6,
  ReplicaSet: 6,
  Job: 6,
  CronJob: 6,
  Pod: 6,
  HorizontalPodAutoscaler: 7,
  PodDisruptionBudget: 7,
  NetworkPolicy: 7,
  Ingress: 7,
  IngressClass: 7,
  APIService: 7,
  MutatingWebhookConfiguration: 7,
  ValidatingWebhookConfiguration: 7,
};
const builtinGroups = new Set(['', 'apps', 'batch', 'policy', 'autoscaling', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'storage.k8s.io', 'scheduling.k8s.io', 'admissionregistration.k8s.io', 'apiregistration.k8s.io']);
export const customResourceTier = 8;

export function applyTier(ref: { apiVersion: string; kind: string }): number {
  if (!builtinGroups.has(groupOf(ref.apiVersion))) return customResourceTier;
  return tierOfKind[ref.kind] ?? customResourceTier;
}

/** Stable: objects keep their render order within a tier. */
export function sortForApply<T extends KubernetesObject>(objects: readonly T[]): T[] {
  return objects
    .map((object, index) => ({ object, index, tier: applyTier(refOf(object)) }))
    .sort((a, b) => a.tier - b.tier || a.index - b.index)
    .map((entry) => entry.object);
}

/**
 * Apply phases: the tiers merged where nothing inside needs to wait for its neighbour, so that a
 * deploy takes few round trips. Namespaces; CRDs; identities, RBAC, config and Services (pods
 * must find their ServiceAccount); workloads and their policies; custom resources.
 */
function applyPhase(tier: number): number {
  if (tier <= 1) return tier;
  if (tier <= 5) return 2;
  if (tier <= 7) return 3;
  return 4;
}

/** Groups objects into phases that may each be applied at once, in apply order. */
export function applyTiers<T extends KubernetesObject>(objects: readonly T[]): T[][] {
  const tiers = new Map<number, T[]>();
  for (const object of sortForApply(objects)) {
    const phase = applyPhase(applyTier(refOf(object)));
    tiers.set(phase, [...(tiers.get(phase) ?? []), object]);
  }
  return [...tiers.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}

/** Adds the membership labels to a copy of the object; the render stays untouched. */
export function withLayerLabels<T extends KubernetesObject>(object: T, layer: string, extraLabels: Readonly<Record<string, string>> = {}): T {
  const copy = structuredClone(object);
  const plain = copy as { metadata?: { labels?: Record<string, string> } };
  plain.metadata ??= {};
  plain.metadata.labels = { ...plain.metadata.labels, [managedByLabel]: managedByValue, [layerLabel]: layer, ...extraLabels };
  return copy;
}

/** Two objects rendered with the same identity are a bug in the layer; say which. */
export function assertUnique(objects: readonly KubernetesObject[], layer: string): void {
  const seen = new Set<string>();
  for (const object of objects) {
    const key = keyOf(refOf(object));
    if (seen.has(key)) throw new Error(`layer ${layer} renders ${describeObject(object)} twice`);
    seen.add(key);
  }
}
