import type { CoreV1Event, KubernetesObject, V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { UserError } from '../errors.ts';
import type { KubeClient, ObjectRef } from './client.ts';
import { KubeApiError, isTransient } from './errors.ts';
import { describeObject, describeRef, refOf } from './objects.ts';
import { describeCondition, readinessOf, type Readiness } from './readiness.ts';
import { formatDuration } from './duration.ts';

class DeadlineReached extends Error {}

/**
 * Watches one object until `done(object)` holds (object undefined = it does not exist), the
 * signal aborts (throws DeadlineReached) or `done` reports a permanent failure.
 * List-then-watch from the list's resourceVersion, re-listing when the watch ends or expires.
 */
export async function watchObject(
  kube: KubeClient,
  ref: ObjectRef,
  done: (object: KubernetesObject | undefined) => boolean,
  signal: AbortSignal,
): Promise<KubernetesObject | undefined> {
  const collection = await kube.path({ apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace });
  const fieldSelector = `metadata.name=${ref.name}`;
  const aborted = (): boolean => signal.aborted;
  const withType = (object: KubernetesObject | undefined): KubernetesObject | undefined =>
    object === undefined ? undefined : { ...object, apiVersion: ref.apiVersion, kind: ref.kind };
  while (!aborted()) {
    let listed: { items: KubernetesObject[] | null; metadata: { resourceVersion: string } };
    try {
      listed = await kube.request('GET', collection, { query: { fieldSelector } });
    } catch (err) {
      if (aborted()) break;
      throw err;
    }
    const state: { current: KubernetesObject | undefined; finished: boolean; failure: Error | undefined } = {
      current: withType(listed.items?.[0]),
      finished: false,
      failure: undefined,
    };
    if (done(state.current)) return state.current;
    const watching = new AbortController();
    const stop = (): void => {
      watching.abort();
    };
    signal.addEventListener('abort', stop, { once: true });
    try {
      await kube.watch(
        collection,
        { fieldSelector, resourceVersion: listed.metadata.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 60 },
        (type, object) => {
          if (type === 'BOOKMARK') return;
          if (type === 'ERROR') {
            watching.abort();
            return;
          }
          state.current = type === 'DELETED' ? undefined : withType(object);
          try {
            state.finished = done(state.current);
          } catch (err) {
            state.failure = err instanceof Error ? err : new Error(String(err));
          }
          if (state.finished || state.failure !== undefined) watching.abort();
        },
        watching.signal,
      );
    } catch (err) {
      // A dropped or expired watch is resumed by listing again; anything else is real.
      const expired = err instanceof KubeApiError && err.status === 410;
      const settled = state.finished || state.failure !== undefined || aborted();
      if (!settled && !expired && !isTransient(err)) throw err;
      if (!settled && isTransient(err)) await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      signal.removeEventListener('abort', stop);
    }
    if (state.failure !== undefined) throw state.failure;
    if (state.finished) return state.current;
  }
  throw new DeadlineReached();
}

export interface WaitOptions {
  readonly timeoutMs: number;
}

/**
 * Waits, all at once and under one deadline, until every given workload has rolled out. On
 * timeout (or a permanent failure) the error names each object that is not ready and why.
 */
export async function waitForReady(kube: KubeClient, objects: readonly KubernetesObject[], options: WaitOptions): Promise<void> {
  if (objects.length === 0) return;
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort();
  }, options.timeoutMs);
  const last = new Map<string, Readiness>();
  const failures: string[] = [];
  try {
    await Promise.all(
      objects.map(async (object) => {
        const ref = refOf(object);
        try {
          await watchObject(
            kube,
            ref,
            (live) => {
              const readiness = readinessOf(live);
              last.set(describeRef(ref), readiness);
              if (readiness.failed === true) throw new RolloutFailed(readiness);
              return readiness.ready;
            },
            deadline.signal,
          );
        } catch (err) {
          if (err instanceof RolloutFailed || err instanceof DeadlineReached) {
            failures.push(describeRef(ref));
            deadline.abort();
            return;
          }
          throw err;
        }
      }),
    );
  } finally {
    clearTimeout(timer);
  }
  if (failures.length === 0) return;
  const notReady = objects.filter((object) => last.get(describeObject(object))?.ready !== true);
  const reasons = await Promise.all(notReady.map((object) => explainNotReady(kube, object, last.get(describeObject(object)))));
  const timedOut = [...last.values()].every((r) => r.failed !== true);
  const headline = timedOut ? `timed out after ${formatDuration(options.timeoutMs)} waiting for rollout` : 'rollout failed';
  throw new UserError(`${headline}:\n${reasons.map((reason) => `  ${reason}`).join('\n')}`);
}

class RolloutFailed extends Error {
  readonly readiness: Readiness;
  constructor(readiness: Readiness) {
    super(readiness.detail);
    this.readiness = readiness;
  }
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/**
 * `Deployment tracelab-demo/backend: 0 of 1 updated replicas available — Available=False
 * MinimumReplicasUnavailable: …; pod backend-7d9f FailedScheduling: 0/3 nodes are available: …`
 */
export async function explainNotReady(kube: KubeClient, object: KubernetesObject, readiness: Readiness | undefined): Promise<string> {
  const ref = refOf(object);
  const parts: string[] = [readiness?.detail ?? 'not observed'];
  try {
    const live = await kube.get<KubernetesObject & { status?: { conditions?: Condition[] }; spec?: { selector?: { matchLabels?: Record<string, string> } } }>(ref);
    const bad = (live?.status?.conditions ?? []).filter((c) => c.status !== 'True' || c.reason === 'ProgressDeadlineExceeded' || c.type === 'ReplicaFailure');
    parts.push(...bad.map(describeCondition));
    const matchLabels = live?.spec?.selector?.matchLabels;
    if (ref.namespace !== undefined && matchLabels !== undefined && ['Deployment', 'DaemonSet', 'StatefulSet', 'Job'].includes(ref.kind)) {
      const labelSelector = Object.entries(matchLabels)
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
      parts.push(...(await explainPods(kube, ref.namespace, labelSelector, ref.kind === 'Deployment' ? (live as V1Deployment) : undefined)));
    }
  } catch (err) {
    parts.push(`(could not read its state: ${err instanceof Error ? err.message : String(err)})`);
  }
  return `${describeRef(ref)}: ${[...new Set(parts)].join('; ')}`;
}

async function explainPods(kube: KubeClient, namespace: string, labelSelector: string, deployment: V1Deployment | undefined): Promise<string[]> {
  const reasons: string[] = [];
  if (deployment !== undefined) {
    const replicaSets = await kube.list<V1ReplicaSet>('apps/v1', 'ReplicaSet', { namespace, labelSelector });
    for (const rs of replicaSets.items) {
      for (const c of rs.status?.conditions ?? []) {
        if (c.type === 'ReplicaFailure' && c.status === 'True') reasons.push(`ReplicaSet ${rs.metadata?.name ?? ''} ${c.reason ?? ''}: ${c.message ?? ''}`);
      }
    }
  }
  const pods = await kube.list<V1Pod>('v1', 'Pod', { namespace, labelSelector });
  const unready = pods.items.filter((pod) => !(pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
  if (unready.length === 0) return reasons;
  for (const pod of unready.slice(0, 3)) {
    for (const status of pod.status?.containerStatuses ?? []) {
      const waiting = status.state?.waiting;
      if (waiting?.reason !== undefined) reasons.push(`pod ${pod.metadata?.name ?? ''} container ${status.name} ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`);
    }
  }
  const events = await kube.list<CoreV1Event>('v1', 'Event', { namespace, fieldSelector: 'involvedObject.kind=Pod,type=Warning' });
  const names = new Set(unready.map((pod) => pod.metadata?.name));
  const latestByPod = new Map<string, CoreV1Event>();
  for (const event of events.items.filter((e) => names.has(e.involvedObject.name)).sort((a, b) => eventTime(a) - eventTime(b))) {
    latestByPod.set(event.involvedObject.name ?? '', event);
  }
  for (const [pod, event] of [...latestByPod.entries()].slice(0, 3)) {
    reasons.push(`pod ${pod} ${event.reason ?? ''}: ${(event.message ?? '').trim()}`);
  }
  return reasons;
}

function eventTime(event: CoreV1Event): number {
  // Raw JSON from the API: timestamps are strings, whatever the model types say.
  const when: unknown = event.lastTimestamp ?? event.eventTime ?? event.metadata.creationTimestamp;
  return typeof when === 'string' || when instanceof Date ? new Date(when).getTime() : 0;
}

/** Waits until every given object is gone (deleted and finalized); names what is left on timeout. */
export async function waitForDeletion(kube: KubeClient, refs: readonly ObjectRef[], timeoutMs: number): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const left = new Set(refs.map(describeRef));
  await Promise.all(
    refs.map(async (ref) => {
      try {
        await watchObject(kube, ref, (live) => live === undefined, deadline);
        left.delete(describeRef(ref));
      } catch (err) {
        if (!(err instanceof DeadlineReached)) throw err;
      }
    }),
  );
  if (left.size > 0) throw new UserError(`timed out after ${formatDuration(timeoutMs)} waiting for deletion of ${[...left].join(', ')} — check their finalizers`);
}
