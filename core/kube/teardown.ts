import type { KubernetesObject } from '@kubernetes/client-node';
import { InterruptedError } from '../errors.ts';
import type { Output } from '../output.ts';
import { confirmNamespaceDeletion, deleteObject, findMembers, sortForDeletion, type Confirm, type MemberRef } from './apply.ts';
import { applySetId, applySetNamespace, applySetParentName, partOfLabel, readRecord, recordOf, type ApplySetRecord } from './applyset.ts';
import type { KubeClient, ObjectRef } from './client.ts';
import { acquireLayerLock } from './lock.ts';
import { assertNamespacesCanBeDeleted, deletableKinds } from './namespaces.ts';
import { applyTier, customResourceTier, describeRef } from './objects.ts';
import { explainKubeError } from './report.ts';
import { waitForDeletion } from './wait.ts';

export interface TeardownOptions {
  readonly layer: string;
  readonly dryRun: boolean;
  readonly timeoutMs: number;
  readonly output: Output;
  /** Asked before a namespace holding objects the layer did not create is deleted. */
  readonly confirm?: Confirm;
  readonly signal?: AbortSignal | undefined;
  /** Field managers of the layer's own programs: what they made in its namespaces goes without asking. */
  readonly layerPrograms?: readonly string[] | undefined;
}

/**
 * Removes every object the layer's ApplySet records (and only those: labelled, applied by the
 * layer, in the recorded kinds and namespaces), in reverse dependency order, waits until they are
 * gone (namespaces finalized included), then removes the record itself. A lost record is rebuilt
 * from the labels. Returns the objects deleted (or that would be, in a dry run).
 */
export async function teardownLayer(kube: KubeClient, options: TeardownOptions): Promise<ObjectRef[]> {
  const lock = options.dryRun ? undefined : await acquireLayerLock(kube, options.layer, `teardown ${options.layer}`);
  try {
    return await teardownLocked(kube, options);
  } finally {
    await lock?.release();
  }
}

async function teardownLocked(kube: KubeClient, options: TeardownOptions): Promise<ObjectRef[]> {
  const { layer, dryRun, output, signal } = options;
  const deadlineAt = Date.now() + options.timeoutMs;
  const parentRef = { apiVersion: 'v1', kind: 'ConfigMap', name: applySetParentName(layer), namespace: applySetNamespace };
  let parent;
  try {
    parent = await kube.get(parentRef);
  } catch (err) {
    throw explainKubeError('read the ApplySet record of', parentRef, err);
  }
  let record = readRecord(parent);
  if (parent === undefined) {
    record = await rebuildRecord(kube, layer);
    if (record.groupKinds.length === 0) {
      output.info(`${layer}: nothing recorded as applied and no object labelled as ${layer}'s — nothing to tear down`);
      return [];
    }
    output.warn(`the ApplySet record ${describeRef(parentRef)} was missing: rebuilt it from the objects labelled as ${layer}'s`);
  }
  const members = sortForDeletion(await findMembers(kube, layer, record, () => true));
  await assertNamespacesCanBeDeleted(kube, members);
  await confirmNamespaceDeletion(kube, layer, members, { confirm: options.confirm, dryRun, output, layerPrograms: options.layerPrograms });

  const deleted: MemberRef[] = [];
  const interrupted = (): InterruptedError =>
    new InterruptedError(
      `interrupted: ${layer}: ${deleted.length > 0 ? `deleted ${deleted.map(describeRef).join(', ')}` : 'deleted nothing'}; not deleted: ${members.filter((m) => !deleted.includes(m)).map(describeRef).join(', ') || 'none'} — run the same command again to finish`,
    );
  await output.step(`${dryRun ? 'Dry-run delete' : 'Delete'} ${members.length} objects of ${layer}`, async () => {
    // Custom resources go (and are gone) before their CRDs, so their controllers can finalize them.
    const customResources = members.filter((ref) => applyTier(ref) === customResourceTier);
    const rest = members.filter((member) => applyTier(member) !== customResourceTier);
    for (const ref of customResources) {
      if (signal?.aborted === true) throw interrupted();
      await deleteObject(kube, ref, dryRun);
      deleted.push(ref);
    }
    if (!dryRun) await waitForDeletion(kube, customResources, { timeoutMs: options.timeoutMs, deadlineAt, output, signal });
    for (const ref of rest) {
      if (signal?.aborted === true) throw interrupted();
      await deleteObject(kube, ref, dryRun);
      deleted.push(ref);
    }
  });
  if (!dryRun) {
    await output.step(`Wait until ${layer} is gone`, async () => {
      try {
        await waitForDeletion(kube, members, { timeoutMs: options.timeoutMs, deadlineAt, output, signal });
      } catch (err) {
        if (err instanceof InterruptedError) throw interrupted();
        throw explainKubeError(`tear down ${layer}`, undefined, err);
      }
    });
    await deleteObject(kube, parentRef, false);
  }
  return members;
}

/**
 * The record of a layer whose parent ConfigMap was deleted: every kind the cluster serves is
 * searched for objects carrying the layer's ApplySet label, as kubectl would find them.
 */
async function rebuildRecord(kube: KubeClient, layer: string): Promise<ApplySetRecord> {
  const labelSelector = `${partOfLabel}=${applySetId(layer)}`;
  const found = await Promise.all(
    (await deletableKinds(kube)).map(async (resource) => {
      try {
        return (await kube.list<KubernetesObject>(resource.apiVersion, resource.kind, { labelSelector })).items;
      } catch {
        return [];
      }
    }),
  );
  return recordOf(found.flat());
}
