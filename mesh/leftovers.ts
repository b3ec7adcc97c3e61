import type { V1ConfigMap } from '@kubernetes/client-node';
import type { AfterApplyContext } from '../core/layer.ts';
import { deleteObject } from '../core/kube/apply.ts';
import type { KubeClient } from '../core/kube/client.ts';

/** The mesh's root certificate, which istiod copies into every namespace (and labels so). */
export const rootCertConfigMap = 'istio-ca-root-cert';
const istiodCopyLabel = 'istio.io/config=true';

/**
 * After the mesh's objects are gone: the copies istiod made of its root certificate in every
 * namespace (by name and istiod's label, nothing else). Returns what it removed (would remove).
 */
export async function removeIstioLeftovers(kube: KubeClient, { dryRun }: AfterApplyContext): Promise<string[]> {
  const copies = (await kube.list<V1ConfigMap>('v1', 'ConfigMap', { labelSelector: istiodCopyLabel, fieldSelector: `metadata.name=${rootCertConfigMap}` })).items;
  const removed: string[] = [];
  for (const copy of copies) {
    const namespace = copy.metadata?.namespace ?? '';
    await deleteObject(kube, { apiVersion: 'v1', kind: 'ConfigMap', name: rootCertConfigMap, namespace, uid: copy.metadata?.uid }, dryRun);
    removed.push(`ConfigMap ${namespace}/${rootCertConfigMap} (istiod's copy of the mesh root certificate)`);
  }
  return removed;
}
