import type { KubernetesObject } from '@kubernetes/client-node';
import { UserError, exitCodes } from '../errors.ts';
import type { KubeClient, ObjectRef } from './client.ts';
import { describeRef, keyOf, refOf } from './objects.ts';
import { madeByKubernetes } from './ownership.ts';
import { describeCondition } from './readiness.ts';

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface APIService extends KubernetesObject {
  spec?: { group?: string; version?: string; service?: { namespace?: string; name?: string } | null };
  status?: { conditions?: Condition[] };
}

/** An aggregated API that does not answer, e.g. `v1beta1.metrics.k8s.io: Available=False FailedDiscoveryCheck: …`. */
export interface UnavailableApi {
  readonly name: string;
  readonly condition: string;
}

/**
 * Aggregated APIs that are not Available. While one is, the namespace controller cannot list
 * every kind, so no namespace finishes deleting (NamespaceDeletionDiscoveryFailure).
 */
export async function unavailableApis(kube: KubeClient, except: ReadonlySet<string>): Promise<UnavailableApi[]> {
  const list = await kube.list<APIService>('apiregistration.k8s.io/v1', 'APIService');
  return list.items
    .filter((api) => api.spec?.service != null && !except.has(api.metadata?.name ?? ''))
    .flatMap((api) => {
      const available = api.status?.conditions?.find((c) => c.type === 'Available');
      return available?.status === 'True' ? [] : [{ name: api.metadata?.name ?? '', condition: available ? describeCondition(available) : 'Available condition not reported' }];
    });
}

/** Fails, before anything is deleted, when a namespace to delete could not finish deleting. */
export async function assertNamespacesCanBeDeleted(kube: KubeClient, toDelete: readonly ObjectRef[]): Promise<void> {
  const namespaces = toDelete.filter((ref) => ref.kind === 'Namespace');
  if (namespaces.length === 0) return;
  const deletedApis = new Set(toDelete.filter((ref) => ref.kind === 'APIService').map((ref) => ref.name));
  const blocking = await unavailableApis(kube, deletedApis);
  if (blocking.length === 0) return;
  throw new UserError(
    `cannot delete ${namespaces.map(describeRef).join(', ')}: the aggregated API ${blocking.map((api) => `${api.name} (${api.condition})`).join(', ')} does not answer, and Kubernetes finishes no namespace deletion until every API does — fix its server (for metrics-server on kubeadm: \`tracelab deploy monitoring --kubelet-tls insecure\`) or delete the APIService; nothing was deleted`,
    { exitCode: exitCodes.blocked },
  );
}

/** Why a Namespace cannot finish deleting, from its own conditions; undefined while it is progressing. */
export function namespaceDeletionFailure(namespace: KubernetesObject | undefined): string | undefined {
  const conditions = (namespace as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions ?? [];
  const failed = conditions.find(
    (c) => c.status === 'True' && ['NamespaceDeletionDiscoveryFailure', 'NamespaceDeletionGroupVersionParsingFailure', 'NamespaceDeletionContentFailure'].includes(c.type ?? ''),
  );
  return failed === undefined ? undefined : describeCondition(failed);
}

/** What a Namespace still waits for while it terminates (remaining content or finalizers). */
export function namespaceDeletionProgress(namespace: KubernetesObject | undefined): string | undefined {
  const conditions = (namespace as { status?: { conditions?: Condition[] } } | undefined)?.status?.conditions ?? [];
  const remaining = conditions.filter((c) => c.status === 'True' && (c.type === 'NamespaceContentRemaining' || c.type === 'NamespaceFinalizersRemaining'));
  return remaining.length === 0 ? undefined : remaining.map((c) => c.message ?? c.type ?? '').join('; ');
}

export interface DeletableKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/**
 * Every kind the cluster serves that can be listed and deleted, in each group's preferred version
 * (metrics.k8s.io holds no objects). A group whose API does not answer is left out:
 * assertNamespacesCanBeDeleted names it.
 */
export async function deletableKinds(kube: KubeClient): Promise<DeletableKind[]> {
  const groups = await kube.request<{ groups: { preferredVersion?: { groupVersion?: string } }[] }>('GET', '/apis');
  const versions = ['v1', ...groups.groups.map((g) => g.preferredVersion?.groupVersion ?? '').filter((v) => v !== '' && !v.startsWith('metrics.k8s.io/'))];
  const lists = await Promise.all(
    versions.map(async (apiVersion) => {
      try {
        const list = await kube.request<{ resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[] }>('GET', apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`);
        return list.resources
          .filter((r) => !r.name.includes('/') && r.verbs.includes('list') && r.verbs.includes('delete'))
          .map((r) => ({ apiVersion, kind: r.kind, namespaced: r.namespaced }));
      } catch {
        return [];
      }
    }),
  );
  return lists.flat();
}

/**
 * Objects in the given namespaces that deleting the namespaces would take along although the
 * layer did not make them: not members, not made by Kubernetes, not owned by another object.
 */
export async function objectsNotMadeBy(kube: KubeClient, namespaces: readonly string[], members: readonly ObjectRef[], layerPrograms: readonly string[] = []): Promise<ObjectRef[]> {
  if (namespaces.length === 0) return [];
  const memberKeys = new Set(members.map(keyOf));
  const kinds = (await deletableKinds(kube)).filter((resource) => resource.namespaced && resource.kind !== 'Event');
  const found = await Promise.all(
    kinds.flatMap((resource) =>
      namespaces.map(async (namespace) => {
        try {
          const list = await kube.list(resource.apiVersion, resource.kind, { namespace });
          return list.items.filter((item) => !madeByKubernetes(item, layerPrograms)).map(refOf).filter((ref) => !memberKeys.has(keyOf(ref)));
        } catch {
          return [];
        }
      }),
    ),
  );
  // The same object served under two groups (Events in v1 and events.k8s.io) counts once.
  const unique = new Map(found.flat().map((ref) => [`${ref.kind}|${ref.namespace ?? ''}|${ref.name}`, ref]));
  return [...unique.values()].sort((a, b) => describeRef(a).localeCompare(describeRef(b)));
}
