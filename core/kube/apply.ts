import type { KubernetesObject } from '@kubernetes/client-node';
import { InterruptedError, UserError, exitCodes } from '../errors.ts';
import type { Output } from '../output.ts';
import { applySetId, applySetNamespace, applySetParentName, partOfLabel, readRecord, recordOf, renderApplySetParent, unionRecords, type ApplySetRecord } from './applyset.ts';
import type { KubeClient, ObjectRef } from './client.ts';
import { parseConflicts, type FieldConflict } from './conflicts.ts';
import { diffObjects } from './diff.ts';
import { isNotFound } from './errors.ts';
import { acquireLayerLock } from './lock.ts';
import { assertNamespacesCanBeDeleted, objectsNotMadeBy } from './namespaces.ts';
import { applyTier, applyTiers, assertUnique, describeRef, fieldManagerFor, groupKindOf, keyOf, refOf, sortForApply, withLayerLabels } from './objects.ts';
import { appliedBy, describeManagers, ownershipOf } from './ownership.ts';
import { isWaitedFor } from './readiness.ts';
import { explainKubeError, type DeployReport, type Outcome } from './report.ts';
import { waitForDeletion, waitForReady } from './wait.ts';

/** What the engine asks the person running it; false without a terminal unless --yes. */
export type Confirm = (question: string) => Promise<boolean>;

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
  /** Take over objects that exist but the layer did not create (default: refuse). */
  readonly adopt?: boolean;
  /** Take back fields another manager changed since the layer applied them (default: stop). */
  readonly forceConflicts?: boolean;
  /** Asked before a prune deletes a namespace holding objects the layer did not create. */
  readonly confirm?: Confirm;
  /** Aborted on Ctrl-C: the run stops between steps and says what it did. */
  readonly signal?: AbortSignal | undefined;
  /** Names this run in the layer's lock, e.g. `up demo`. */
  readonly command?: string;
}

const applyContentType = 'application/apply-patch+yaml';

/** Server-side apply of one object under the layer's field manager, with strict field validation. */
export async function serverSideApply(kube: KubeClient, object: KubernetesObject, layer: string, dryRun: boolean, force = false): Promise<KubernetesObject> {
  const path = await kube.path(refOf(object));
  return kube.request<KubernetesObject>('PATCH', path, {
    query: { fieldManager: fieldManagerFor(layer), force: force ? true : undefined, fieldValidation: 'Strict', dryRun: dryRun ? 'All' : undefined },
    body: object,
    contentType: applyContentType,
  });
}

/** What a run has done so far, for the account Ctrl-C prints. */
class Journal {
  readonly applied: string[] = [];
  readonly pruned: string[] = [];

  interrupted(layer: string, pending: readonly string[]): InterruptedError {
    const done = [
      this.applied.length > 0 ? `applied ${this.applied.join(', ')}` : 'applied nothing',
      ...(this.pruned.length > 0 ? [`pruned ${this.pruned.join(', ')}`] : []),
    ];
    const notDone = pending.length > 0 ? `; not done: ${pending.join(', ')}` : '';
    return new InterruptedError(`interrupted: ${layer}: ${done.join('; ')}${notDone} — run the same command again to finish`);
  }
}

/**
 * Applies a layer: objects in dependency tiers (CRDs waited on until Established), each tier
 * at once; prunes what the layer applied before but no longer renders; runs the afterApply
 * hook; then waits for the workloads. Returns what was created, changed (with the fields),
 * adopted, left unchanged and pruned. One run per layer at a time (a Lease); a dry run takes no lock.
 */
export async function deployLayer(kube: KubeClient, options: DeployOptions): Promise<DeployReport> {
  assertUnique(options.objects, options.layer);
  const lock = options.dryRun ? undefined : await acquireLayerLock(kube, options.layer, options.command ?? `up ${options.layer}`);
  try {
    return await deployLocked(kube, options);
  } finally {
    await lock?.release();
  }
}

async function deployLocked(kube: KubeClient, options: DeployOptions): Promise<DeployReport> {
  const { layer, dryRun, output, signal } = options;
  const deadlineAt = Date.now() + options.timeoutMs;
  const journal = new Journal();
  const stopIfInterrupted = (pending: readonly string[]): void => {
    if (signal?.aborted === true) throw journal.interrupted(layer, pending);
  };
  const id = applySetId(layer);
  const desired = options.objects.map((object) => withLayerLabels(object, layer, { [partOfLabel]: id }));
  const parentRef = { apiVersion: 'v1', kind: 'ConfigMap', name: applySetParentName(layer), namespace: applySetNamespace };
  const parent = await guard('read the ApplySet record of', parentRef, () => kube.get(parentRef));
  let previous = readRecord(parent);
  const current = recordOf(desired);
  if (parent === undefined) {
    // A lost record: the layer's labelled objects among the kinds it renders say what it had.
    const found = await findMembers(kube, layer, { ...current, namespaces: [] }, () => true, { anyNamespace: true });
    if (found.length > 0) {
      previous = recordOf(found.map((ref) => ({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } })));
      output.warn(`the ApplySet record ${describeRef(parentRef)} was missing: rebuilt it from ${found.length} objects labelled as ${layer}'s`);
    }
  }

  // Every object goes through a server-side dry run first (strict validation, admission,
  // conflicts), so that bad input fails before anything is written; it also yields the diff.
  const plan = new Map<string, Outcome>();
  const sentByKey = new Map<string, KubernetesObject>();
  await output.step(`Check ${desired.length} objects of ${layer} (server-side dry run)`, async () => {
    const autoscaled = autoscaledTargets(desired);
    const kinds = crdKinds(desired);
    const checks = await Promise.all(desired.map((object) => checkOne(kube, object, layer, { kindsFromCrds: kinds, autoscaled, forceConflicts: options.forceConflicts === true })));
    const namespacesToCreate = new Set(checks.filter((c) => c.ref.kind === 'Namespace' && c.live === undefined).map((c) => c.ref.name));
    refuseUnsafe(layer, checks, options, dryRun);
    for (const check of checks) {
      plan.set(keyOf(check.ref), outcomeOf(layer, check, namespacesToCreate));
      sentByKey.set(keyOf(check.ref), check.sent);
    }
  });
  const outcomes: Outcome[] = sortForApply(desired).map((object) => plan.get(keyOf(refOf(object))) as Outcome);
  const adopted = outcomes.filter((outcome) => outcome.action === 'adopted');
  if (dryRun && adopted.length > 0 && options.adopt !== true) {
    output.warn(`a real run refuses to adopt ${adopted.map((o) => describeRef(o.ref)).join(', ')} without --adopt`);
  }
  const toApply = new Set(outcomes.filter((outcome) => outcome.action !== 'unchanged').map((outcome) => keyOf(outcome.ref)));

  const desiredKeys = new Set(desired.map((object) => keyOf(refOf(object))));
  const stale = await findMembers(kube, layer, unionRecords(previous, current), (ref) => !desiredKeys.has(keyOf(ref)));
  if (stale.length > 0) {
    await assertNamespacesCanBeDeleted(kube, stale);
    await confirmNamespaceDeletion(kube, layer, stale, { confirm: options.confirm, dryRun, output });
  }
  stopIfInterrupted(['everything']);

  if (!dryRun) {
    // Record the union first, so that an interrupted run still knows every kind to prune later.
    if (parent === undefined || !sameRecord(previous, unionRecords(previous, current))) await recordApplySet(kube, layer, unionRecords(previous, current));
    if (toApply.size > 0) {
      await output.step(`Apply ${toApply.size} created or changed objects of ${layer}`, async () => {
        const tiers = applyTiers(desired);
        for (const [index, tier] of tiers.entries()) {
          stopIfInterrupted(tiers.slice(index).flat().filter((object) => toApply.has(keyOf(refOf(object)))).map((object) => describeRef(refOf(object))));
          const changed = tier.filter((object) => toApply.has(keyOf(refOf(object))));
          await Promise.all(
            changed.map(async (object) => {
              const key = keyOf(refOf(object));
              const force = options.forceConflicts === true || plan.get(key)?.action === 'adopted';
              await guard('apply', refOf(object), () => serverSideApply(kube, sentByKey.get(key) ?? object, layer, false, force));
              journal.applied.push(describeRef(refOf(object)));
            }),
          );
          const crds = changed.filter((object) => object.kind === 'CustomResourceDefinition');
          if (crds.length > 0) await waitForReady(kube, crds, { timeoutMs: options.timeoutMs, deadlineAt, output, signal });
        }
      });
    }
  }

  if (stale.length > 0) {
    await output.step(`${dryRun ? 'Dry-run prune' : 'Prune'} ${stale.length} objects ${layer} no longer renders`, async () => {
      for (const ref of sortForDeletion(stale)) {
        stopIfInterrupted(stale.filter((r) => !journal.pruned.includes(describeRef(r))).map((r) => `prune ${describeRef(r)}`));
        await deleteObject(kube, ref, dryRun);
        journal.pruned.push(describeRef(ref));
        outcomes.push({ ref, action: 'pruned', changes: [] });
      }
      // Pruned means gone: a re-apply right after must not meet a terminating leftover.
      if (!dryRun) await guard(`wait for the objects ${layer} pruned`, undefined, () => waitForDeletion(kube, stale, { timeoutMs: options.timeoutMs, deadlineAt, output, signal }));
    });
  }
  if (!dryRun && !sameRecord(unionRecords(previous, current), current)) await recordApplySet(kube, layer, current);
  stopIfInterrupted(['the afterApply hook', 'the rollout wait']);
  await options.afterApply?.(kube);

  const workloads = desired.filter((object) => isWaitedFor(object) && object.kind !== 'CustomResourceDefinition');
  if (!dryRun && options.wait !== false && workloads.length > 0) {
    await output.step(`Wait for ${workloads.map((object) => describeRef(refOf(object))).join(', ')}`, async () => {
      try {
        await waitForReady(kube, workloads, { timeoutMs: options.timeoutMs, deadlineAt, output, signal });
      } catch (err) {
        if (err instanceof InterruptedError) throw journal.interrupted(layer, ['the rollout wait']);
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

/** Keys of the workloads a HorizontalPodAutoscaler of the same render scales. */
export function autoscaledTargets(objects: readonly KubernetesObject[]): Set<string> {
  const targets = new Set<string>();
  for (const object of objects) {
    if (object.kind !== 'HorizontalPodAutoscaler') continue;
    const target = (object as { spec?: { scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string } } }).spec?.scaleTargetRef;
    if (target?.apiVersion === undefined || target.kind === undefined || target.name === undefined) continue;
    targets.add(keyOf({ apiVersion: target.apiVersion, kind: target.kind, name: target.name, namespace: object.metadata?.namespace }));
  }
  return targets;
}

/**
 * An autoscaled workload keeps the replica count it has: the render's value applies only when
 * it is created, then the autoscaler (or a person) owns it. Sending the live value changes
 * nothing and conflicts with no one.
 */
function withLiveReplicas(object: KubernetesObject, live: KubernetesObject | undefined): KubernetesObject {
  const replicas = (live as { spec?: { replicas?: number } } | undefined)?.spec?.replicas;
  if (replicas === undefined) return object;
  const copy = structuredClone(object) as KubernetesObject & { spec?: { replicas?: number } };
  copy.spec = { ...copy.spec, replicas };
  return copy;
}

interface CheckSettings {
  /** Served only once this render's CRD exists. */
  readonly kindsFromCrds: ReadonlySet<string>;
  readonly autoscaled: ReadonlySet<string>;
  readonly forceConflicts: boolean;
}

interface Check {
  readonly ref: ObjectRef;
  /** Served only once this render's CRD exists: nothing to check against yet. */
  readonly kindNotYetServed: boolean;
  readonly live: KubernetesObject | undefined;
  /** What is sent: the render, with the live replica count for autoscaled workloads. */
  readonly sent: KubernetesObject;
  readonly applied: KubernetesObject | undefined;
  readonly error: unknown;
  /** Fields other managers changed; set when --force-conflicts takes them back. */
  readonly conflicts: readonly FieldConflict[];
}

/** Reads the live object and dry-runs the apply (without force first, to see conflicts). */
async function checkOne(kube: KubeClient, object: KubernetesObject, layer: string, settings: CheckSettings): Promise<Check> {
  const ref = refOf(object);
  if (settings.kindsFromCrds.has(groupKindOf(ref))) {
    const served = await guard('check', ref, () => kube.resolveGroupKind(groupKindOf(ref)));
    if (served === undefined) return { ref, kindNotYetServed: true, live: undefined, sent: object, applied: undefined, error: undefined, conflicts: [] };
  }
  const tryApply = (sent: KubernetesObject, force: boolean): Promise<{ applied: KubernetesObject | undefined; error: unknown }> =>
    serverSideApply(kube, sent, layer, true, force).then(
      (applied) => ({ applied, error: undefined }),
      (error: unknown) => ({ applied: undefined, error }),
    );
  let live: KubernetesObject | undefined;
  let sent = object;
  let result: { applied: KubernetesObject | undefined; error: unknown };
  if (settings.autoscaled.has(keyOf(ref))) {
    live = await guard('read', ref, () => kube.get(ref));
    sent = withLiveReplicas(object, live);
    result = await tryApply(sent, false);
  } else {
    [live, result] = await Promise.all([guard('read', ref, () => kube.get(ref)), tryApply(sent, false)]);
  }
  const conflicts = parseConflicts(result.error) ?? [];
  // Adopting (only ever with --adopt in a real run) means taking every field it renders.
  const force = settings.forceConflicts || (live !== undefined && ownershipOf(live, layer).kind === 'foreign');
  if (conflicts.length > 0 && force) result = await tryApply(sent, true);
  return { ref, kindNotYetServed: false, live, sent, ...result, conflicts: force ? conflicts : [] };
}

/**
 * Stops before anything is written when the run would take what is not the layer's: an object
 * of another tracelab layer (never), one that exists but the layer did not create (unless
 * --adopt), fields another manager changed (unless --force-conflicts).
 */
function refuseUnsafe(layer: string, checks: readonly Check[], options: DeployOptions, dryRun: boolean): void {
  for (const check of checks) {
    if (check.live === undefined) continue;
    const owner = ownershipOf(check.live, layer);
    if (owner.kind === 'another-layer') {
      const hint = check.ref.kind === 'Namespace' ? ' — choose another --namespace' : ` — tear down layer ${owner.layer} first, or change ${layer}'s options`;
      throw new UserError(`${describeRef(check.ref)} belongs to tracelab layer ${owner.layer}; layer ${layer} will not take it over${hint}`, { exitCode: exitCodes.refused });
    }
  }
  if (!dryRun && options.adopt !== true) {
    const foreign = checks.filter((check) => check.live !== undefined && ownershipOf(check.live, layer).kind === 'foreign');
    if (foreign.length > 0) {
      const named = foreign.map((check) => `${describeRef(check.ref)} (made by ${describeManagers(foreignManagers(check.live, layer))})`);
      throw new UserError(
        `refusing to take over ${foreign.length === 1 ? 'an object' : `${foreign.length} objects`} that ${layer} did not create: ${named.join(', ')} — pass --adopt to take ${foreign.length === 1 ? 'it' : 'them'} over (teardown then deletes ${foreign.length === 1 ? 'it' : 'them'}), or remove ${foreign.length === 1 ? 'it' : 'them'} first; nothing was changed`,
        { exitCode: exitCodes.refused },
      );
    }
  }
  for (const check of checks) {
    if (check.error === undefined || parseConflicts(check.error) === undefined) continue;
    throw explainKubeError('apply', check.ref, check.error);
  }
}

function foreignManagers(live: KubernetesObject | undefined, layer: string): readonly string[] {
  if (live === undefined) return [];
  const owner = ownershipOf(live, layer);
  return owner.kind === 'foreign' ? owner.managers : [];
}

function outcomeOf(layer: string, check: Check, namespacesToCreate: ReadonlySet<string>): Outcome {
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
  const owner = ownershipOf(check.live, layer);
  if (owner.kind === 'foreign') return { ref, action: 'adopted', changes, managers: owner.managers };
  const takenFrom = [...new Set(check.conflicts.map((c) => c.manager))];
  return { ref, action: changes.length === 0 ? 'unchanged' : 'changed', changes, ...(takenFrom.length > 0 ? { takenFrom } : {}) };
}

function sameRecord(a: ApplySetRecord, b: ApplySetRecord): boolean {
  return a.groupKinds.join(',') === b.groupKinds.join(',') && a.namespaces.join(',') === b.namespaces.join(',');
}

async function recordApplySet(kube: KubeClient, layer: string, record: ApplySetRecord): Promise<void> {
  const parent = renderApplySetParent(layer, record);
  await guard('record the ApplySet of', refOf(parent), () => serverSideApply(kube, parent, layer, false, true));
}

/** An object the layer applied, as found live: its uid guards the delete. */
export interface MemberRef extends ObjectRef {
  readonly uid?: string | undefined;
}

/**
 * The layer's live members among the recorded kinds and namespaces (kubectl's ApplySet
 * semantics: the record's namespaces plus the record's own): labelled with the layer's ApplySet
 * id and applied by its field manager. A labelled copy elsewhere, or one someone else made, is
 * not a member. `anyNamespace` looks everywhere, to rebuild a lost record.
 */
export async function findMembers(
  kube: KubeClient,
  layer: string,
  record: ApplySetRecord,
  keep: (ref: ObjectRef) => boolean,
  scope: { anyNamespace?: boolean } = {},
): Promise<MemberRef[]> {
  const labelSelector = `${partOfLabel}=${applySetId(layer)}`;
  const namespaces = new Set([...record.namespaces, applySetNamespace]);
  const perKind = await Promise.all(
    record.groupKinds.map(async (groupKind) => {
      const served = await guard(`resolve ${groupKind} of`, undefined, () => kube.resolveGroupKind(groupKind));
      if (served === undefined) return [];
      const listed = await guard(`list ${groupKind} of layer ${layer}`, undefined, () => kube.list(served.apiVersion, served.kind, { labelSelector }));
      return listed.items
        .filter((item) => appliedBy(item, layer))
        .filter((item) => scope.anyNamespace === true || item.metadata?.namespace === undefined || namespaces.has(item.metadata.namespace))
        .map((item) => ({ ...refOf({ ...item, apiVersion: served.apiVersion, kind: served.kind }), uid: item.metadata?.uid }))
        .filter(keep);
    }),
  );
  return perKind.flat();
}

/**
 * Deleting a Namespace deletes everything in it. When it holds objects the layer did not
 * create (and Kubernetes did not make), they are listed and the person must agree (or pass
 * --yes); a dry run only lists them.
 */
export async function confirmNamespaceDeletion(
  kube: KubeClient,
  layer: string,
  toDelete: readonly ObjectRef[],
  options: { confirm: Confirm | undefined; dryRun: boolean; output: Output; layerPrograms?: readonly string[] | undefined },
): Promise<void> {
  const namespaces = toDelete.filter((ref) => ref.kind === 'Namespace').map((ref) => ref.name);
  const others = await guard(`list what else is in the namespaces of ${layer}`, undefined, () => objectsNotMadeBy(kube, namespaces, toDelete, options.layerPrograms));
  if (others.length === 0) return;
  const list = others.map(describeRef).join(', ');
  const what = `deleting ${namespaces.map((n) => `Namespace ${n}`).join(', ')} also deletes ${others.length === 1 ? 'an object' : `${others.length} objects`} ${layer} did not create: ${list}`;
  if (options.dryRun) {
    options.output.warn(`${what} (a real run asks first, or needs --yes)`);
    return;
  }
  if (options.confirm !== undefined && (await options.confirm(`${what}. Delete ${others.length === 1 ? 'it' : 'them'} too?`))) return;
  throw new UserError(`${what} — move or back up what you need and pass --yes; nothing was deleted`, { exitCode: exitCodes.badInput });
}

/** Reverse dependency order: custom resources first, namespaces last. */
export function sortForDeletion<T extends ObjectRef>(refs: readonly T[]): T[] {
  return [...refs].sort((a, b) => applyTier(b) - applyTier(a) || describeRef(a).localeCompare(describeRef(b)));
}

/**
 * Deletes one object (a dry run sends dryRun in the DeleteOptions body, where the API server
 * reads it when a body is sent). A uid, when known, makes sure it is the object that was listed.
 */
export async function deleteObject(kube: KubeClient, ref: MemberRef, dryRun: boolean): Promise<void> {
  await guard('delete', ref, async () => {
    const path = await kube.path(ref);
    try {
      await kube.request('DELETE', path, {
        query: { dryRun: dryRun ? 'All' : undefined },
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          ...(dryRun ? { dryRun: ['All'] } : {}),
          ...(ref.uid === undefined ? {} : { preconditions: { uid: ref.uid } }),
          // Foreground: the object stays until its dependents (ReplicaSets, Pods) are gone.
          propagationPolicy: ref.kind === 'Namespace' ? 'Background' : 'Foreground',
        },
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
