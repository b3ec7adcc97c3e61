import type { V1ConfigMap } from '@kubernetes/client-node';
import type { AfterApplyContext } from '../core/layer.ts';
import { deleteObject } from '../core/kube/apply.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { managersOf } from '../core/kube/ownership.ts';

/** What istiod copies into every namespace: the mesh's root certificate and its revocation list. */
export const istiodCopies = ['istio-ca-root-cert', 'istio-ca-crl'] as const;
/** istiod's field manager. */
const istiod = 'pilot-discovery';

/**
 * After the mesh's objects are gone: the ConfigMaps istiod copied into every namespace — by name,
 * and only where istiod alone wrote them. Returns what it removed (would remove).
 */
export async function removeIstioLeftovers(kube: KubeClient, { dryRun }: AfterApplyContext): Promise<string[]> {
  const removed: string[] = [];
  for (const name of istiodCopies) {
    const copies = (await kube.list<V1ConfigMap>('v1', 'ConfigMap', { fieldSelector: `metadata.name=${name}` })).items;
    for (const copy of copies) {
      const managers = managersOf(copy);
      if (managers.length === 0 || managers.some((manager) => manager !== istiod)) continue;
      const namespace = copy.metadata?.namespace ?? '';
      await deleteObject(kube, { apiVersion: 'v1', kind: 'ConfigMap', name, namespace, uid: copy.metadata?.uid }, dryRun);
      removed.push(`ConfigMap ${namespace}/${name} (istiod's copy)`);
    }
  }
  return removed;
}
