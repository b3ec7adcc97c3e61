import type { CoreV1Event, KubernetesObject, V1Deployment, V1Pod, V1ReplicaSet, V1Service } from '@kubernetes/client-node';
import { InterruptedError, UserError, exitCodes } from '../errors.ts';
import type { Output } from '../output.ts';
import type { KubeClient, ObjectRef } from './client.ts';
import { KubeApiError, isNotFound, isTransient } from './errors.ts';
import { describeObject, describeRef, refOf } from './objects.ts';
import { describeCondition, readinessOf, type Readiness } from './readiness.ts';
import { formatDuration } from './duration.ts';
import { namespaceDeletionFailure, namespaceDeletionProgress } from './namespaces.ts';

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
  /** The command's --timeout, as error messages name it. */
  readonly timeoutMs: number;
  /** Epoch ms when that timeout ends, when the wait is the last part of a longer run. */
  readonly deadlineAt?: number;
  /** Where a line naming what is still pending goes, at least every 10 s. */
  readonly output?: Output;
  /** Aborted on Ctrl-C: the wait ends with an InterruptedError. */
  readonly signal?: AbortSignal | undefined;
}

/** How often a rollout wait looks at the pods for a reason waiting cannot help. */
export const podCheckEveryMs = 3_000;

/** Container states that do not get better by waiting. */
const hopelessWaiting = new Set(['ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError']);

/** `pod x container server ImagePullBackOff: …` for a pod of the workload that cannot start, else undefined. */
async function stuckPodReason(kube: KubeClient, object: KubernetesObject): Promise<string | undefined> {
  const ref = refOf(object);
  const matchLabels = (object as { spec?: { selector?: { matchLabels?: Record<string, string> } } }).spec?.selector?.matchLabels;
  if (ref.namespace === undefined || matchLabels === undefined) return undefined;
  const labelSelector = Object.entries(matchLabels).map(([key, value]) => `${key}=${value}`).join(',');
  const pods = await kube.list<V1Pod>('v1', 'Pod', { namespace: ref.namespace, labelSelector });
  for (const pod of pods.items) {
    for (const status of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const waiting = status.state?.waiting;
      const crashing = waiting?.reason === 'CrashLoopBackOff' && status.restartCount >= 3;
      if (waiting?.reason !== undefined && (hopelessWaiting.has(waiting.reason) || crashing)) {
        return `pod ${pod.metadata?.name ?? ''} container ${status.name} ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`;
      }
    }
  }
  return undefined;
}

/** How often a wait says what it still waits for, with or without a terminal. */
export const progressEveryMs = 10_000;
/** Workloads ready, their APIService still not Available this long later: it will not be. */
export const apiServiceGraceMs = 30_000;

/** One abort for the timeout, Ctrl-C and early ends; `ended` says which timer fired. */
function startDeadline(options: WaitOptions): { deadline: AbortController; ended: { timedOut: boolean; apiServiceGraceOver: boolean }; dispose: () => void } {
  const deadline = new AbortController();
  // Set from timers: a plain `let` would read as never changed to the type checker.
  const ended = { timedOut: false, apiServiceGraceOver: false };
  const waitingMs = options.deadlineAt === undefined ? options.timeoutMs : Math.max(0, options.deadlineAt - Date.now());
  const timer = setTimeout(() => {
    ended.timedOut = true;
    deadline.abort();
  }, waitingMs);
  const onInterrupt = (): void => {
    deadline.abort();
  };
  options.signal?.addEventListener('abort', onInterrupt, { once: true });
  return {
    deadline,
    ended,
    dispose: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onInterrupt);
    },
  };
}

function startProgress(output: Output | undefined, pending: () => string[]): () => void {
  if (output === undefined) return () => undefined;
  const started = Date.now();
  const timer = setInterval(() => {
    const left = pending();
    if (left.length > 0) output.info(`  … still waiting after ${formatDuration(Math.round((Date.now() - started) / 1000) * 1000)}: ${left.join('; ')}`);
  }, progressEveryMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}

function interruptedWhile(what: string): InterruptedError {
  return new InterruptedError(`interrupted while waiting for ${what}`);
}

/**
 * Waits, all at once and under one deadline, until every given workload has rolled out. On
 * timeout (or a permanent failure) the error names each object that is not ready and why.
 */
export async function waitForReady(kube: KubeClient, objects: readonly KubernetesObject[], options: WaitOptions): Promise<void> {
  if (objects.length === 0) return;
  const { deadline, ended, dispose } = startDeadline(options);
  const last = new Map<string, Readiness>();
  const failures: string[] = [];
  const apiServices = objects.filter((object) => object.kind === 'APIService');
  let graceTimer: NodeJS.Timeout | undefined;
  const checkApiServiceGrace = (): void => {
    if (apiServices.length === 0 || graceTimer !== undefined) return;
    const othersReady = objects.filter((object) => object.kind !== 'APIService').every((object) => last.get(describeObject(object))?.ready === true);
    if (!othersReady) return;
    graceTimer = setTimeout(() => {
      ended.apiServiceGraceOver = true;
      deadline.abort();
    }, apiServiceGraceMs);
  };
  const stopProgress = startProgress(options.output, () =>
    objects.filter((object) => last.get(describeObject(object))?.ready !== true).map((object) => `${describeObject(object)}: ${last.get(describeObject(object))?.detail ?? 'not observed yet'}`),
  );
  // What the kubelet reports on the pods ends the wait early when waiting cannot help (an image
  // that cannot be pulled, a container that keeps crashing).
  const podsStuck = { reason: undefined as string | undefined };
  const podWatch = setInterval(() => {
    void (async () => {
      for (const object of objects.filter((o) => last.get(describeObject(o))?.ready !== true)) {
        const reason = await stuckPodReason(kube, object).catch(() => undefined);
        if (reason !== undefined && podsStuck.reason === undefined) {
          podsStuck.reason = reason;
          failures.push(describeObject(object));
          deadline.abort();
        }
      }
    })();
  }, podCheckEveryMs);
  podWatch.unref();
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
              checkApiServiceGrace();
              return readiness.ready;
            },
            deadline.signal,
          );
          checkApiServiceGrace();
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
    dispose();
    clearTimeout(graceTimer);
    clearInterval(podWatch);
    stopProgress();
  }
  if (failures.length === 0) return;
  if (options.signal?.aborted === true && !ended.timedOut) throw interruptedWhile(objects.map(describeObject).join(', '));
  const notReady = objects.filter((object) => last.get(describeObject(object))?.ready !== true);
  const reasons = await Promise.all(notReady.map((object) => explainNotReady(kube, object, last.get(describeObject(object)))));
  const failed = [...last.values()].some((r) => r.failed === true) || podsStuck.reason !== undefined;
  if (!failed && (ended.timedOut || !ended.apiServiceGraceOver)) {
    throw new UserError(`timed out after ${formatDuration(options.timeoutMs)} waiting for rollout:\n${reasons.map((reason) => `  ${reason}`).join('\n')}`, { exitCode: exitCodes.timedOut });
  }
  const headline = failed ? 'rollout failed' : `its workloads are ready but an aggregated API is still not available ${formatDuration(apiServiceGraceMs)} later`;
  throw new UserError(`${headline}:\n${reasons.map((reason) => `  ${reason}`).join('\n')}`, { exitCode: exitCodes.blocked });
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
    if (ref.kind === 'APIService') parts.push(...(await explainApiService(kube, live)));
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
  for (const pod of unready.slice(0, 2)) {
    const diagnosis = await diagnosePodLog(kube, pod);
    if (diagnosis !== undefined) reasons.push(`pod ${pod.metadata?.name ?? ''} ${diagnosis}`);
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

/**
 * Waits until every given object is gone (deleted and finalized). A Namespace whose own
 * conditions say it cannot finish (an API that does not answer, content that cannot be deleted)
 * fails at once with that reason; on timeout the error names what is left and why.
 */
export async function waitForDeletion(kube: KubeClient, refs: readonly ObjectRef[], options: WaitOptions): Promise<void> {
  if (refs.length === 0) return;
  const { deadline, ended, dispose } = startDeadline(options);
  const left = new Map(refs.map((ref) => [describeRef(ref), 'still exists']));
  const stopProgress = startProgress(options.output, () => [...left.entries()].map(([name, state]) => `${name}: ${state}`));
  try {
    await Promise.all(
      refs.map(async (ref) => {
        try {
          await watchObject(
            kube,
            ref,
            (live) => {
              if (live === undefined) return true;
              if (ref.kind === 'Namespace') {
                const failure = namespaceDeletionFailure(live);
                if (failure !== undefined) throw new NamespaceStuck(ref, failure);
                left.set(describeRef(ref), namespaceDeletionProgress(live) ?? 'terminating');
              } else if (live.metadata?.deletionTimestamp !== undefined) {
                const finalizers = live.metadata.finalizers ?? [];
                left.set(describeRef(ref), finalizers.length > 0 ? `terminating, finalizers ${finalizers.join(', ')}` : 'terminating');
              }
              return false;
            },
            deadline.signal,
          );
          left.delete(describeRef(ref));
        } catch (err) {
          // A custom resource whose definition is gone is gone too: its API answers 404 to a watch.
          if (isNotFound(err)) {
            left.delete(describeRef(ref));
            return;
          }
          if (!(err instanceof DeadlineReached)) throw err;
        }
      }),
    );
  } catch (err) {
    if (err instanceof NamespaceStuck) {
      throw new UserError(
        `${describeRef(err.ref)} cannot finish deleting: ${err.reason} — Kubernetes retries by itself once the cause is fixed (an aggregated API that does not answer: fix its server or delete its APIService)`,
        { exitCode: exitCodes.blocked },
      );
    }
    throw err;
  } finally {
    dispose();
    stopProgress();
  }
  if (left.size === 0) return;
  if (options.signal?.aborted === true && !ended.timedOut) throw interruptedWhile(`the deletion of ${[...left.keys()].join(', ')}`);
  throw new UserError(
    `timed out after ${formatDuration(options.timeoutMs)} waiting for the deletion of ${[...left.entries()].map(([name, state]) => `${name} (${state})`).join(', ')}`,
    { exitCode: exitCodes.timedOut },
  );
}

class NamespaceStuck extends Error {
  readonly ref: ObjectRef;
  readonly reason: string;
  constructor(ref: ObjectRef, reason: string) {
    super(reason);
    this.ref = ref;
    this.reason = reason;
  }
}

/** What a workload's log says that explains it, for the few causes worth recognising. */
export function diagnoseLog(log: string): string | undefined {
  if (/x509: |tls: failed to verify certificate/.test(log)) {
    const line = log.split('\n').find((l) => /x509: |tls: failed to verify/.test(l)) ?? '';
    const scrapesKubelets = /kubelet|:10250/.test(line);
    const hint = scrapesKubelets
      ? " — the kubelets' serving certificates do not verify: on kubeadm (self-signed kubelet certificates) use --kubelet-tls insecure, or enable serverTLSBootstrap and approve the kubelet-serving CSRs"
      : '';
    return `TLS verification failed: ${line.replace(/^.*?(x509: |tls: )/, '$1').slice(0, 200)}${hint}`;
  }
  return undefined;
}

async function diagnosePodLog(kube: KubeClient, pod: V1Pod): Promise<string | undefined> {
  const name = pod.metadata?.name;
  const namespace = pod.metadata?.namespace;
  const running = (pod.status?.containerStatuses ?? []).find((status) => status.state?.running !== undefined || status.lastState?.terminated !== undefined);
  if (name === undefined || namespace === undefined || running === undefined) return undefined;
  try {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log`;
    const log = await kube.request<string>('GET', path, { query: { container: running.name, tailLines: 50 }, responseType: 'text' });
    return diagnoseLog(typeof log === 'string' ? log : '');
  } catch {
    // No log to read (fake nodes, a kubelet that does not answer): nothing to add.
    return undefined;
  }
}

async function explainApiService(kube: KubeClient, apiService: KubernetesObject | undefined): Promise<string[]> {
  const service = (apiService as { spec?: { service?: { name?: string; namespace?: string } | null } } | undefined)?.spec?.service;
  if (service?.name === undefined || service.namespace === undefined) return [];
  const live = await kube.get<V1Service>({ apiVersion: 'v1', kind: 'Service', name: service.name, namespace: service.namespace });
  const selector = live?.spec?.selector;
  if (selector === undefined) return [`its Service ${service.namespace}/${service.name} does not exist or selects no pods`];
  const labelSelector = Object.entries(selector).map(([key, value]) => `${key}=${value}`).join(',');
  const pods = await kube.list<V1Pod>('v1', 'Pod', { namespace: service.namespace, labelSelector });
  const reasons: string[] = [];
  for (const pod of pods.items.slice(0, 2)) {
    const diagnosis = await diagnosePodLog(kube, pod);
    if (diagnosis !== undefined) reasons.push(`pod ${pod.metadata?.name ?? ''} ${diagnosis}`);
  }
  return reasons;
}
