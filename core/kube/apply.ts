import type { KubernetesObject } from '@kubernetes/client-node';
import { UserError } from '../errors.ts';
import type { Output } from '../output.ts';
import { applySetId, applySetNamespace, applySetParentName, partOfLabel, readRecord, recordOf, renderApplySetParent, unionRecords, type ApplySetRecord } from './applyset.ts';
import type { KubeClient, ObjectRef } from './client.ts';
import { diffObjects } from './diff.ts';
import { applyTier, applyTiers, assertUnique, describeRef, fieldManagerFor, groupKindOf, keyOf, refOf, sortForApply, withLayerLabels } from './objects.ts';
import { isNotFound } from './errors.ts';
import { isWaitedFor } from './readiness.ts';
import { explainKubeError, type DeployReport, type Outcome } from './report.ts';
import { waitForDeletion, waitForReady } from './wait.ts';

export interface DeployOptions {
  readonly layer: string;
  /** What the layer renders; membership labels are added here. */
  readonly objects: readonly KubernetesObject[];
  /** Server-side dry run: every object is sent with dryRun=All, nothing is persisted. */
  readonly dryRun: boolean;
  readonly timeoutMs: number;
  /** Wait for workloads to roll out (default true; never in a dry run). */
  readonly wait?: boolean;
  readonly output: Output;
  /** Runs after apply and prune, before the wait, in a dry run too (a layer's afterApply hook). */
  readonly afterApply?: (kube: KubeClient) => Promise<void>;
}

const applyContentType = 'application/apply-patch+yaml';

/** Server-side apply of one object under the layer's field manager, with strict field validation. */
export async function serverSideApply(kube: KubeClient, object: KubernetesObject, layer: string, dryRun: boolean): Promise<KubernetesObject> {
  const path = await kube.path(refOf(object));
  return kube.request<KubernetesObject>('PATCH', path, {
    query: { fieldManager: fieldManagerFor(layer), force: true, fieldValidation: 'Strict', dryRun: dryRun ? 'All' : undefined },
    body: object,
    contentType: applyContentType,
  });
}

/**
 * Applies a layer: objects in dependency tiers (CRDs waited on until Established), each tier
 * at once; prunes what the layer applied before but no longer renders; runs the afterApply
 * hook; then waits for the workloads. Returns what was created, changed (with the fields), left unchanged and pruned.
 */
export async function deployLayer(kube: KubeClient, options: DeployOptions): Promise<DeployReport> {
  const { layer, dryRun, output } = options;
  assertUnique(options.objects, layer);
  const id = applySetId(layer);
  const desired = options.objects.map((object) => withLayerLabels(object, layer, { [partOfLabel]: id }));
  const parentRef = { apiVersion: 'v1', kind: 'ConfigMap', name: applySetParentName(layer), namespace: applySetNamespace };
  const parent = await guard('read the ApplySet record of', parentRef, () => kube.get(parentRef));
  const previous = readRecord(parent);
  const current = recordOf(desired);

  // Every object goes through a server-side dry run first (strict validation, admission), so
  // that bad input fails before anything is written; the dry run also yields the diff.
  const plan = new Map<string, Outcome>();
  await output.step(`Check ${desired.length} objects of ${layer} (server-side dry run)`, async () => {
    const checks = await Promise.all(desired.map((object) => checkOne(kube, object, layer, crdKinds(desired))));
    const namespacesToCreate = new Set(checks.filter((c) => c.ref.kind === 'Namespace' && c.live === undefined).map((c) => c.ref.name));
    for (const check of checks) plan.set(keyOf(check.ref), outcomeOf(check, namespacesToCreate));
  });
  const outcomes: Outcome[] = sortForApply(desired).map((object) => plan.get(keyOf(refOf(object))) as Outcome);
  const toApply = new Set(outcomes.filter((outcome) => outcome.action !== 'unchanged').map((outcome) => keyOf(outcome.ref)));

  if (!dryRun) {
    // Record the union first, so that an interrupted run still knows every kind to prune later.
    if (parent === undefined || !sameRecord(previous, unionRecords(previous, current))) await recordApplySet(kube, layer, unionRecords(previous, current));
    if (toApply.size > 0) {
      await output.step(`Apply ${toApply.size} created or changed objects of ${layer}`, async () => {
        for (const tier of applyTiers(desired)) {
          const changed = tier.filter((object) => toApply.has(keyOf(refOf(object))));
          await Promise.all(changed.map((object) => guard('apply', refOf(object), () => serverSideApply(kube, object, layer, false))));
          const crds = changed.filter((object) => object.kind === 'CustomResourceDefinition');
          if (crds.length > 0) await waitForReady(kube, crds, { timeoutMs: options.timeoutMs });
        }
      });
    }
  }

  const desiredKeys = new Set(desired.map((object) => keyOf(refOf(object))));
  const stale = await findMembers(kube, layer, unionRecords(previous, current), (ref) => !desiredKeys.has(keyOf(ref)));
  if (stale.length > 0) {
    await output.step(`${dryRun ? 'Dry-run prune' : 'Prune'} ${stale.length} objects ${layer} no longer renders`, async () => {
      for (const ref of sortForDeletion(stale)) {
        await deleteObject(kube, ref, dryRun);
        outcomes.push({ ref, action: 'pruned', changes: [] });
      }
      // Pruned means gone: a re-apply right after must not meet a terminating leftover.
      if (!dryRun) await guard(`wait for the objects ${layer} pruned`, undefined, () => waitForDeletion(kube, stale, options.timeoutMs));
    });
  }
  if (!dryRun && !sameRecord(unionRecords(previous, current), current)) await recordApplySet(kube, layer, current);
  await options.afterApply?.(kube);

  const workloads = desired.filter((object) => isWaitedFor(object) && object.kind !== 'CustomResourceDefinition');
  if (!dryRun && options.wait !== false && workloads.length > 0) {
    await output.step(`Wait for ${workloads.map((object) => describeRef(refOf(object))).join(', ')}`, async () => {
      try {
        await waitForReady(kube, workloads, { timeoutMs: options.timeoutMs });
      } catch (err) {
        // A timeout already names each object and why; an API failure gets named here.
        if (err instanceof UserError) throw err;
        throw explainKubeError(`wait for the rollout of ${layer}`, undefined, err);
      }
    });
  }
  return { layer, dryRun, outcomes };
}

function crdKinds(objects: readonly KubernetesObject[]): Set<string> {
  const kinds = new Set<string>();
  for (const object of objects) {
    if (object.kind !== 'CustomResourceDefinition') continue;
    const spec = (object as { spec?: { group?: string; names?: { kind?: string } } }).spec;
    if (spec?.group !== undefined && spec.names?.kind !== undefined) kinds.add(`${spec.names.kind}.${spec.group}`);
  }
  return kinds;
}

interface Check {
  readonly ref: ObjectRef;
  /** Served only once this render's CRD exists: nothing to check against yet. */
  readonly kindNotYetServed: boolean;
  readonly live: KubernetesObject | undefined;
  readonly applied: KubernetesObject | undefined;
  readonly error: unknown;
}

/** Reads the live object and dry-runs the apply, both at once. */
async function checkOne(kube: KubeClient, object: KubernetesObject, layer: string, kindsFromCrds: Set<string>): Promise<Check> {
  const ref = refOf(object);
  if (kindsFromCrds.has(groupKindOf(ref))) {
    const served = await guard('check', ref, () => kube.resolveGroupKind(groupKindOf(ref)));
    if (served === undefined) return { ref, kindNotYetServed: true, live: undefined, applied: undefined, error: undefined };
  }
  const [live, dryRun] = await Promise.all([
    guard('read', ref, () => kube.get(ref)),
    serverSideApply(kube, object, layer, true).then(
      (applied) => ({ applied, error: undefined }),
      (error: unknown) => ({ applied: undefined, error }),
    ),
  ]);
  return { ref, kindNotYetServed: false, live, ...dryRun };
}

function outcomeOf(check: Check, namespacesToCreate: ReadonlySet<string>): Outcome {
  const { ref } = check;
  if (check.kindNotYetServed) return { ref, action: 'created', changes: [] };
  if (check.error !== undefined) {
    // Field validation runs before the namespace lookup, so NotFound here means only that
    // the namespace this render creates does not exist yet.
    const inNewNamespace = ref.namespace !== undefined && namespacesToCreate.has(ref.namespace);
    if (inNewNamespace && isNotFound(check.error)) return { ref, action: 'created', changes: [] };
    throw explainKubeError('apply', ref, check.error);
  }
  if (check.live === undefined || check.applied === undefined) return { ref, action: 'created', changes: [] };
  const changes = diffObjects(check.live, check.applied);
  return { ref, action: changes.length === 0 ? 'unchanged' : 'changed', changes };
}

function sameRecord(a: ApplySetRecord, b: ApplySetRecord): boolean {
  return a.groupKinds.join(',') === b.groupKinds.join(',') && a.namespaces.join(',') === b.namespaces.join(',');
}

async function recordApplySet(kube: KubeClient, layer: string, record: ApplySetRecord): Promise<void> {
  const parent = renderApplySetParent(layer, record);
  await guard('record the ApplySet of', refOf(parent), () => serverSideApply(kube, parent, layer, false));
}

/** The layer's live members (by the part-of label) among the recorded kinds, filtered. */
export async function findMembers(kube: KubeClient, layer: string, record: ApplySetRecord, keep: (ref: ObjectRef) => boolean): Promise<ObjectRef[]> {
  const labelSelector = `${partOfLabel}=${applySetId(layer)}`;
  const perKind = await Promise.all(
    record.groupKinds.map(async (groupKind) => {
      const served = await guard(`resolve ${groupKind} of`, undefined, () => kube.resolveGroupKind(groupKind));
      if (served === undefined) return [];
      const listed = await guard(`list ${groupKind} of layer ${layer}`, undefined, () => kube.list(served.apiVersion, served.kind, { labelSelector }));
      return listed.items.map((item) => refOf({ ...item, apiVersion: served.apiVersion, kind: served.kind })).filter(keep);
    }),
  );
  return perKind.flat();
}

/** Reverse dependency order: custom resources first, namespaces last. */
export function sortForDeletion(refs: readonly ObjectRef[]): ObjectRef[] {
  return [...refs].sort((a, b) => applyTier(b) - applyTier(a) || describeRef(a).localeCompare(describeRef(b)));
}

export async function deleteObject(kube: KubeClient, ref: ObjectRef, dryRun: boolean): Promise<void> {
  await guard('delete', ref, async () => {
    const path = await kube.path(ref);
    try {
      await kube.request('DELETE', path, {
        query: { dryRun: dryRun ? 'All' : undefined },
        // Foreground: the object stays until its dependents (ReplicaSets, Pods) are gone.
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: ref.kind === 'Namespace' ? 'Background' : 'Foreground' },
      });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  });
}

async function guard<T>(operation: string, ref: ObjectRef | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw explainKubeError(operation, ref, err);
  }
}

