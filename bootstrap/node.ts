import { setTimeout as sleep } from 'node:timers/promises';
import type { V1LabelSelector, V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { InterruptedError, UserError, exitCodes } from '../core/errors.ts';
import type { Output } from '../core/output.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { formatDuration } from '../core/kube/duration.ts';
import { KubeApiError, conciseApiMessage } from '../core/kube/errors.ts';
import { explainKubeError } from '../core/kube/report.ts';
import { RetriesExhaustedError } from '../core/kube/retry.ts';

/** The field manager of tracelab's writes to a Node's spec.unschedulable. */
const fieldManager = 'tracelab-node';
/** The annotation a kubelet puts on the API copy of a static pod. */
const mirrorAnnotation = 'kubernetes.io/config.mirror';
/** A refused eviction (PodDisruptionBudget) is tried again this long after the refusal. */
const evictionRetryMs = 2_000;
/** How often the drain looks whether the evicted pods are gone. */
const goneCheckMs = 1_000;
/** How often a drain says what it still waits for. */
const progressEveryMs = 10_000;

/** What a drain does with one pod on the node. */
export type PodDisposition =
  | 'evict' // a controller recreates it elsewhere, or it has finished
  | 'evict-unmanaged' // no controller, --force: deleted for good
  | 'daemonset' // left alone, like kubectl drain --ignore-daemonsets
  | 'mirror' // a static pod: the kubelet runs it from a file, the API cannot evict it
  | 'terminating' // already being deleted: only waited for
  | 'refused'; // no controller and no --force: the drain refuses to start

export interface PodPlan {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly disposition: PodDisposition;
  /** `ReplicaSet web-7d9f`, or undefined without a controller. */
  readonly controller: string | undefined;
  readonly phase: string;
  /** Names of its emptyDir volumes, whose data eviction deletes. */
  readonly emptyDirs: readonly string[];
}

export interface DrainPlan {
  readonly node: string;
  readonly alreadyCordoned: boolean;
  readonly pods: readonly PodPlan[];
}

/** Decides, without touching the cluster, what draining `node` does with each of its pods. */
export function planDrain(node: V1Node, pods: readonly V1Pod[], options: { readonly force: boolean }): DrainPlan {
  return {
    node: node.metadata?.name ?? '',
    alreadyCordoned: node.spec?.unschedulable === true,
    pods: pods.map((pod) => planPod(pod, options.force)).sort((a, b) => podName(a).localeCompare(podName(b))),
  };
}

function planPod(pod: V1Pod, force: boolean): PodPlan {
  const owner = (pod.metadata?.ownerReferences ?? []).find((ref) => ref.controller === true);
  const phase = pod.status?.phase ?? 'Unknown';
  const finished = phase === 'Succeeded' || phase === 'Failed';
  let disposition: PodDisposition;
  if (pod.metadata?.annotations?.[mirrorAnnotation] !== undefined) disposition = 'mirror';
  else if (pod.metadata?.deletionTimestamp !== undefined) disposition = 'terminating';
  else if (owner?.kind === 'DaemonSet') disposition = 'daemonset';
  else if (owner !== undefined || finished) disposition = 'evict';
  else disposition = force ? 'evict-unmanaged' : 'refused';
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    labels: pod.metadata?.labels ?? {},
    disposition,
    controller: owner === undefined ? undefined : `${owner.kind} ${owner.name}`,
    phase,
    emptyDirs: (pod.spec?.volumes ?? []).filter((volume) => volume.emptyDir !== undefined).map((volume) => volume.name),
  };
}

export function podName(pod: { readonly namespace: string; readonly name: string }): string {
  return `${pod.namespace}/${pod.name}`;
}

const evicted = (pod: PodPlan): boolean => pod.disposition === 'evict' || pod.disposition === 'evict-unmanaged';

/** `pod ns/web-1 (ReplicaSet web-7d9f); its emptyDir data is deleted (cache)`: how a drain names a pod it evicts. */
export function describeEviction(pod: PodPlan): string {
  const why = pod.controller ?? (pod.disposition === 'evict-unmanaged' ? 'no controller: --force deletes it for good' : `${pod.phase}, no controller`);
  const data = pod.emptyDirs.length === 0 ? '' : `; its emptyDir data is deleted (${pod.emptyDirs.join(', ')})`;
  return `pod ${podName(pod)} (${why})${data}`;
}

/** The line for a pod the drain does not evict, or undefined for one it does. */
export function describeLeftAlone(pod: PodPlan): string | undefined {
  switch (pod.disposition) {
    case 'daemonset':
      return `leaving pod ${podName(pod)} alone: ${pod.controller ?? 'a DaemonSet'} runs one on every node`;
    case 'mirror':
      return `leaving pod ${podName(pod)} alone: a static pod (the kubelet runs it from a file on the node)`;
    case 'terminating':
      return `pod ${podName(pod)} is already terminating: waiting for it to go`;
    default:
      return undefined;
  }
}

/** Whether a label selector selects these labels; a missing selector selects nothing (policy/v1). */
export function selectorMatches(selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((expression) => {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        return value !== undefined && values.includes(value);
      case 'NotIn':
        return value === undefined || !values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        return false;
    }
  });
}

/** `PodDisruptionBudget ns/web allows 0 disruptions (minAvailable 2, 2 of 2 pods healthy)` */
export function describeBudget(pdb: V1PodDisruptionBudget): string {
  const spec = pdb.spec;
  const rule = spec?.minAvailable !== undefined ? `minAvailable ${spec.minAvailable}` : spec?.maxUnavailable !== undefined ? `maxUnavailable ${spec.maxUnavailable}` : 'no rule';
  const status = pdb.status;
  const health = status === undefined ? 'not evaluated yet' : `${status.currentHealthy} of ${status.expectedPods} pods healthy`;
  return `PodDisruptionBudget ${pdb.metadata?.namespace ?? ''}/${pdb.metadata?.name ?? ''} allows ${status?.disruptionsAllowed ?? 0} disruptions (${rule}, ${health})`;
}

export interface DrainOptions {
  readonly node: string;
  /** Also evict pods no controller recreates. */
  readonly force: boolean;
  readonly dryRun: boolean;
  /** The command's --timeout: refused evictions and the wait for the pods to go end there. */
  readonly timeoutMs: number;
  readonly output: Output;
  /** Aborted by Ctrl-C: the drain stops and says what it did. */
  readonly signal?: AbortSignal | undefined;
}

export interface DrainReport {
  readonly plan: DrainPlan;
  /** `ns/name` of every pod evicted (or, dry run, that would be). */
  readonly evicted: readonly string[];
}

/**
 * `kubectl drain --ignore-daemonsets --delete-emptydir-data`, through the Eviction API: checks every
 * pod first (a pod no controller recreates stops it before anything changes, unless force), then
 * cordons the node, evicts its pods — an eviction a PodDisruptionBudget refuses is tried again until
 * the deadline — and waits until the evicted pods are gone.
 */
export async function drainNode(kube: KubeClient, options: DrainOptions): Promise<DrainReport> {
  const deadlineAt = Date.now() + options.timeoutMs;
  const { output } = options;
  const node = await readNode(kube, options.node);
  const pods = await kube.list<V1Pod>('v1', 'Pod', { fieldSelector: `spec.nodeName=${options.node}` });
  const plan = planDrain(node, pods.items, { force: options.force });

  const refused = plan.pods.filter((pod) => pod.disposition === 'refused');
  if (refused.length > 0) {
    const names = refused.map((pod) => `pod ${podName(pod)}`).join(', ');
    throw new UserError(
      `refusing to drain node ${plan.node}: ${names} ${refused.length === 1 ? 'has' : 'have'} no controller to recreate ${refused.length === 1 ? 'it' : 'them'} elsewhere, so evicting deletes ${refused.length === 1 ? 'it' : 'them'} for good — move or delete ${refused.length === 1 ? 'it' : 'them'} yourself, or pass --force; nothing was changed (the node is not cordoned)`,
      { exitCode: exitCodes.refused },
    );
  }
  const toEvict = plan.pods.filter(evicted);
  const leftAlone = plan.pods.map(describeLeftAlone).filter((line) => line !== undefined);
  const leftCount = plan.pods.filter((pod) => pod.disposition === 'daemonset' || pod.disposition === 'mirror').length;

  if (options.dryRun) {
    output.info(plan.alreadyCordoned ? `node ${plan.node} is already cordoned` : `would cordon node ${plan.node}`);
    const budgets = toEvict.length === 0 ? [] : (await kube.list<V1PodDisruptionBudget>('policy/v1', 'PodDisruptionBudget')).items;
    for (const pod of toEvict) {
      const covering = budgets.filter((pdb) => pdb.metadata?.namespace === pod.namespace && selectorMatches(pdb.spec?.selector, pod.labels));
      output.info(`would evict ${describeEviction(pod)}${covering.map((pdb) => `; ${describeBudget(pdb)} now`).join('')}`);
    }
    for (const line of leftAlone) output.info(line);
    output.info(`node ${plan.node}: would evict ${toEvict.length} pods, leave ${leftCount} alone (dry run: nothing was changed)`);
    return { plan, evicted: toEvict.map(podName) };
  }

  if (plan.alreadyCordoned) {
    output.info(`node ${plan.node} is already cordoned`);
  } else {
    await setUnschedulable(kube, plan.node, true);
    output.info(`cordoned node ${plan.node}: no new pods are scheduled to it`);
  }
  for (const line of leftAlone) output.info(line);

  // What each pod still waits for, by ns/name: the progress lines and the timeout name it.
  const pending = new Map<string, string>(plan.pods.filter((pod) => evicted(pod) || pod.disposition === 'terminating').map((pod) => [podName(pod), 'not evicted yet']));
  for (const pod of plan.pods.filter((p) => p.disposition === 'terminating')) pending.set(podName(pod), 'terminating');
  // A refusal that waiting cannot fix stops the other pods' evictions too.
  const halt = new AbortController();
  const signal = options.signal === undefined ? halt.signal : AbortSignal.any([options.signal, halt.signal]);
  const stopped = (): boolean => signal.aborted || Date.now() >= deadlineAt;
  const started = Date.now();
  const progress = setInterval(() => {
    if (pending.size === 0) return;
    const waited = formatDuration(Math.round((Date.now() - started) / 1000) * 1000);
    output.info(`  … still waiting after ${waited}: ${[...pending.entries()].map(([name, state]) => `pod ${name}: ${state}`).join('; ')}`);
  }, progressEveryMs);
  progress.unref();

  const done: string[] = [];
  try {
    const outcomes = await Promise.all(
      toEvict.map(async (pod) => {
        const outcome = await evictUntilAccepted(kube, pod, pending, { stopped, deadlineAt, signal }).catch((err: unknown) => {
          halt.abort();
          throw err;
        });
        if (outcome === 'evicted') {
          output.info(`evicted ${describeEviction(pod)}`);
          pending.set(podName(pod), 'evicted, terminating');
          done.push(podName(pod));
        } else if (outcome === 'namespace terminating') {
          output.info(`pod ${podName(pod)}: its namespace is being deleted, which deletes the pod — waiting for it to go`);
          pending.set(podName(pod), 'its namespace is being deleted');
        } else if (outcome === 'gone') {
          pending.delete(podName(pod));
        }
        return outcome;
      }),
    );
    if (aborted(options.signal)) throw interrupted(plan.node, done, pending);
    const blocked = toEvict.filter((_, index) => outcomes[index] === 'blocked');
    if (blocked.length > 0) {
      const reasons = blocked.map((pod) => `pod ${podName(pod)} cannot be evicted: ${pending.get(podName(pod)) ?? 'eviction refused'}`);
      throw new UserError(
        `timed out after ${formatDuration(options.timeoutMs)} draining node ${plan.node}: ${reasons.join('; ')} — node ${plan.node} stays cordoned${done.length > 0 ? ` (${done.length} other pods evicted)` : ''}; add replicas on other nodes or relax the budget and drain again, or undo with tracelab node uncordon ${plan.node}`,
        { exitCode: exitCodes.timedOut },
      );
    }

    await waitUntilGone(kube, plan, pending, { stopped, signal });
    if (aborted(options.signal)) throw interrupted(plan.node, done, pending);
    if (pending.size > 0) {
      throw new UserError(
        `timed out after ${formatDuration(options.timeoutMs)} draining node ${plan.node}: still on it: ${[...pending.entries()].map(([name, state]) => `pod ${name} (${state})`).join(', ')} — node ${plan.node} stays cordoned; look at the pods' finalizers and the node's kubelet, then drain again`,
        { exitCode: exitCodes.timedOut },
      );
    }
  } finally {
    clearInterval(progress);
  }
  output.info(`drained node ${plan.node}: evicted ${done.length} pods${leftCount > 0 ? `, left ${leftCount} alone` : ''}`);
  return { plan, evicted: done };
}

type EvictionOutcome = 'evicted' | 'gone' | 'namespace terminating' | 'blocked' | 'stopped';

/** Evicts one pod, trying again while a PodDisruptionBudget refuses, until the deadline. */
async function evictUntilAccepted(
  kube: KubeClient,
  pod: PodPlan,
  pending: Map<string, string>,
  until: { stopped: () => boolean; deadlineAt: number; signal: AbortSignal | undefined },
): Promise<EvictionOutcome> {
  const podPath = await kube.path({ apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace });
  let refusedOnce = false;
  while (!until.stopped()) {
    try {
      await kube.request('POST', `${podPath}/eviction`, {
        // The uid precondition: a pod recreated under the same name (StatefulSet) is not this one.
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace }, deleteOptions: { preconditions: { uid: pod.uid } } },
      });
      return 'evicted';
    } catch (err) {
      if (until.stopped() || pastDeadline(err)) break;
      const api = apiErrorOf(err);
      if (api?.status === 404) return 'gone';
      // No eviction is created in a namespace being deleted; the namespace controller deletes the pod.
      if (api?.status === 403 && /because it is being terminated/.test(api.message)) return 'namespace terminating';
      if (api?.status === 409) {
        const live = await kube.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace });
        if (live?.metadata?.uid !== pod.uid) return 'gone';
      } else if (api?.status === 429) {
        refusedOnce = true;
        pending.set(podName(pod), await blockerOf(kube, pod, api).catch(() => pending.get(podName(pod)) ?? 'eviction refused'));
      } else if (api?.status === 500 && /more than one PodDisruptionBudget/i.test(api.message)) {
        throw new UserError(`cannot evict pod ${podName(pod)}: ${conciseApiMessage(api.message)} — make exactly one PodDisruptionBudget select it, then drain again`, { cause: err, exitCode: exitCodes.refused });
      } else {
        throw explainKubeError('evict', { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace }, err);
      }
      await pause(Math.min(evictionRetryMs, until.deadlineAt - Date.now()), until.signal);
    }
  }
  return refusedOnce ? 'blocked' : 'stopped';
}

/** The client's own refusal to start a request after the --timeout deadline. */
function pastDeadline(err: unknown): boolean {
  return err instanceof UserError && err.exitCode === exitCodes.timedOut;
}

/** The 429 itself, or the 429 the client's own retries gave up on. */
function apiErrorOf(err: unknown): KubeApiError | undefined {
  if (err instanceof KubeApiError) return err;
  if (err instanceof RetriesExhaustedError && err.cause instanceof KubeApiError) return err.cause;
  return undefined;
}

/** Why the API refused to evict a pod: the PodDisruptionBudget that selects it, found by its selector. */
async function blockerOf(kube: KubeClient, pod: PodPlan, refusal: KubeApiError): Promise<string> {
  const budgets = await kube.list<V1PodDisruptionBudget>('policy/v1', 'PodDisruptionBudget', { namespace: pod.namespace });
  const covering = budgets.items.filter((pdb) => selectorMatches(pdb.spec?.selector, pod.labels));
  if (covering.length === 0) return `eviction refused (429: ${conciseApiMessage(refusal.message)})`;
  return `eviction refused by ${covering.map(describeBudget).join(', ')}`;
}

/** Polls the node's pods until none of those in `pending` is left (same name and uid), or the drain stops. */
async function waitUntilGone(kube: KubeClient, plan: DrainPlan, pending: Map<string, string>, until: { stopped: () => boolean; signal: AbortSignal | undefined }): Promise<void> {
  const uids = new Map(plan.pods.map((pod) => [podName(pod), pod.uid]));
  while (pending.size > 0 && !until.stopped()) {
    let live: V1Pod[];
    try {
      live = (await kube.list<V1Pod>('v1', 'Pod', { fieldSelector: `spec.nodeName=${plan.node}` })).items;
    } catch (err) {
      if (until.stopped() || pastDeadline(err)) return;
      throw explainKubeError('list the pods of node', { apiVersion: 'v1', kind: 'Node', name: plan.node }, err);
    }
    const present = new Map(live.map((pod) => [`${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`, pod]));
    for (const name of [...pending.keys()]) {
      const pod = present.get(name);
      if (pod?.metadata?.uid !== uids.get(name)) {
        pending.delete(name);
      } else {
        const finalizers = pod?.metadata?.finalizers ?? [];
        pending.set(name, finalizers.length > 0 ? `terminating, finalizers ${finalizers.join(', ')}` : 'terminating');
      }
    }
    if (pending.size > 0) await pause(goneCheckMs, until.signal);
  }
}

function interrupted(node: string, done: readonly string[], pending: ReadonlyMap<string, string>): InterruptedError {
  const notDone = [...pending.keys()].filter((name) => !done.includes(name));
  return new InterruptedError(
    `interrupted while draining node ${node}: cordoned it; evicted ${done.length === 0 ? 'nothing' : done.join(', ')}; not evicted: ${notDone.length === 0 ? 'nothing' : notDone.join(', ')} — run the same command again to finish, or tracelab node uncordon ${node} to undo the cordon`,
  );
}

/** A function, not a property read: the type checker would take the value from before an await. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return;
  await sleep(ms, undefined, signal === undefined ? undefined : { signal }).catch(() => undefined);
}

export interface UncordonOptions {
  readonly node: string;
  readonly dryRun: boolean;
  readonly output: Output;
}

/** Lets the scheduler place pods on the node again; a node that is schedulable already is left as it is. */
export async function uncordonNode(kube: KubeClient, options: UncordonOptions): Promise<'uncordoned' | 'already schedulable'> {
  const node = await readNode(kube, options.node);
  if (node.spec?.unschedulable !== true) {
    options.output.info(`node ${options.node} is already schedulable`);
    return 'already schedulable';
  }
  if (options.dryRun) {
    options.output.info(`would uncordon node ${options.node} (dry run: nothing was changed)`);
    return 'uncordoned';
  }
  await setUnschedulable(kube, options.node, false);
  options.output.info(`uncordoned node ${options.node}: the scheduler places pods on it again`);
  return 'uncordoned';
}

/** The Node, or one line naming the nodes there are (exit 2). */
async function readNode(kube: KubeClient, name: string): Promise<V1Node> {
  const ref = { apiVersion: 'v1', kind: 'Node', name };
  let node: V1Node | undefined;
  try {
    node = await kube.get<V1Node>(ref);
  } catch (err) {
    throw explainKubeError('read', ref, err);
  }
  if (node !== undefined) return node;
  const nodes = (await kube.list<V1Node>('v1', 'Node')).items.map((n) => n.metadata?.name ?? '');
  throw new UserError(`node '${name}' does not exist in the cluster at ${kube.server} (its nodes: ${nodes.join(', ') || 'none'}) — pass one of those`);
}

async function setUnschedulable(kube: KubeClient, name: string, unschedulable: boolean): Promise<void> {
  const ref = { apiVersion: 'v1', kind: 'Node', name };
  try {
    await kube.request('PATCH', await kube.path(ref), {
      query: { fieldManager },
      contentType: 'application/merge-patch+json',
      body: { spec: { unschedulable } },
    });
  } catch (err) {
    throw explainKubeError(unschedulable ? 'cordon' : 'uncordon', ref, err);
  }
}
