import type { Output } from '../output.ts';
import { deleteObject, findMembers, sortForDeletion } from './apply.ts';
import { applySetNamespace, applySetParentName, readRecord } from './applyset.ts';
import type { KubeClient, ObjectRef } from './client.ts';
import { applyTier, customResourceTier } from './objects.ts';
import { explainKubeError } from './report.ts';
import { waitForDeletion } from './wait.ts';

export interface TeardownOptions {
  readonly layer: string;
  readonly dryRun: boolean;
  readonly timeoutMs: number;
  readonly output: Output;
}

/**
 * Removes every object the layer's ApplySet records, in reverse dependency order, waits until
 * they are gone (namespaces finalized included), then removes the record itself.
 * Returns the objects deleted (or that would be, in a dry run).
 */
export async function teardownLayer(kube: KubeClient, options: TeardownOptions): Promise<ObjectRef[]> {
  const { layer, dryRun, output } = options;
  const parentRef = { apiVersion: 'v1', kind: 'ConfigMap', name: applySetParentName(layer), namespace: applySetNamespace };
  let parent;
  try {
    parent = await kube.get(parentRef);
  } catch (err) {
    throw explainKubeError('read the ApplySet record of', parentRef, err);
  }
  if (parent === undefined) {
    output.info(`${layer}: nothing recorded as applied — nothing to tear down`);
    return [];
  }
  const members = sortForDeletion(await findMembers(kube, layer, readRecord(parent), () => true));
  await output.step(`${dryRun ? 'Dry-run delete' : 'Delete'} ${members.length} objects of ${layer}`, async () => {
    // Custom resources go (and are gone) before their CRDs, so their controllers can finalize them.
    const customResources = members.filter((ref) => applyTier(ref) === customResourceTier);
    for (const ref of customResources) await deleteObject(kube, ref, dryRun);
    if (!dryRun) await waitForDeletion(kube, customResources, options.timeoutMs);
    for (const ref of members.filter((member) => applyTier(member) !== customResourceTier)) await deleteObject(kube, ref, dryRun);
  });
  if (!dryRun) {
    await output.step(`Wait until ${layer} is gone`, async () => {
      try {
        await waitForDeletion(kube, members, options.timeoutMs);
      } catch (err) {
        throw explainKubeError(`tear down ${layer}`, undefined, err);
      }
    });
    await deleteObject(kube, parentRef, false);
  }
  return members;
}
