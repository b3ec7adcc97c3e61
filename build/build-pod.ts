/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; watched objects are read back as them */
import { Writable, type Readable } from 'node:stream';
import { Attach, type KubernetesObject, type V1Container, type V1Pod, type V1Volume } from '@kubernetes/client-node';
import type { KubeClient } from '../core/kube/client.ts';
import { InterruptedError, UserError, exitCodes } from '../core/errors.ts';
import { watchObject } from '../core/kube/wait.ts';

/** What a build pod left: its exit code and every line it printed. */
export interface BuildPodResult {
  readonly exitCode: number;
  readonly reason: string | undefined;
  /** The container's termination message (kaniko writes the digest there). */
  readonly message?: string | undefined;
  readonly lines: readonly string[];
}

/** The one container of a build pod: it reads the context on stdin and prints its log. */
export const buildContainer = 'build';

/** Where a builder's pods run and with what. */
export interface BuildPodSettings {
  readonly namespace: string;
  readonly image: string;
  /** Build pods are deleted when done; one that outlives this is stopped by the kubelet. */
  readonly deadlineSeconds: number;
}

/**
 * A build pod: one container that reads the context on stdin, never restarted, no API token, gone
 * when the build ends; `container` adds what the builder runs and needs.
 */
export function renderBuildPod(builder: string, label: string, settings: BuildPodSettings, suffix: string, container: Omit<V1Container, 'name' | 'image'>, volumes: V1Volume[] = []): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `build-${label}-${suffix}`,
      namespace: settings.namespace,
      labels: { 'app.kubernetes.io/name': builder, 'app.kubernetes.io/managed-by': 'tracelab', 'tracelab.dev/build': label },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: settings.deadlineSeconds,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      containers: [
        {
          name: buildContainer,
          image: settings.image,
          imagePullPolicy: 'IfNotPresent',
          stdin: true,
          stdinOnce: true,
          resources: {
            requests: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '1Gi' },
            limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '4Gi' },
          },
          ...container,
        },
      ],
      ...(volumes.length === 0 ? {} : { volumes }),
    },
  };
}

interface AttachedSocket {
  addEventListener(type: 'close', listener: () => void): void;
  close(): void;
}

/** A line at a time, to `onLine`, from the attached stdout and stderr. */
function lineSink(onLine: (line: string) => void): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line.replace(/\r$/, ''));
      done();
    },
    final(done) {
      if (partial !== '') onLine(partial);
      done();
    },
  });
}

function containerState(pod: V1Pod | undefined): 'waiting' | 'running' | 'terminated' {
  const state = pod?.status?.containerStatuses?.find((status) => status.name === buildContainer)?.state;
  if (state?.terminated !== undefined) return 'terminated';
  if (state?.running !== undefined) return 'running';
  return 'waiting';
}

/** A pod that cannot start (its image cannot be had, it cannot be scheduled) fails here, not at the deadline. */
function startFailure(pod: V1Pod): string | undefined {
  const waiting = pod.status?.containerStatuses?.find((status) => status.name === buildContainer)?.state?.waiting;
  if (waiting?.reason !== undefined && /ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError|CreateContainerError/.test(waiting.reason)) {
    return `${waiting.reason}: ${waiting.message ?? ''}`.trim();
  }
  const unschedulable = pod.status?.conditions?.find((condition) => condition.type === 'PodScheduled' && condition.status === 'False' && condition.reason === 'Unschedulable');
  return unschedulable === undefined ? undefined : `cannot be scheduled: ${unschedulable.message ?? ''}`;
}

/**
 * Creates the build pod, streams the context into its stdin, hands every line it prints to
 * `onLine`, and deletes the pod whatever happens. The pod's container must read its stdin to EOF
 * first (the context), then build.
 */
export async function runBuildPod(
  kube: KubeClient,
  pod: V1Pod,
  context: Readable,
  onLine: (line: string) => void,
  signal: AbortSignal,
  /** Runs once the pod exists (e.g. to make it the owner of its credentials); a failure deletes the pod. */
  onCreated?: (created: V1Pod) => Promise<void>,
): Promise<BuildPodResult> {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const ref = { apiVersion: 'v1', kind: 'Pod', name, namespace };
  const lines: string[] = [];
  const record = (line: string): void => {
    lines.push(line);
    onLine(line);
  };
  const pods = await kube.path({ apiVersion: 'v1', kind: 'Pod', namespace });
  // Build pods a killed tracelab left to their deadline go now, and with them the Secrets they own.
  for (const phase of ['Failed', 'Succeeded']) {
    await kube.request('DELETE', pods, { query: { labelSelector: 'app.kubernetes.io/managed-by=tracelab,tracelab.dev/build', fieldSelector: `status.phase=${phase}` } });
  }
  const created = await kube.request<V1Pod>('POST', pods, { body: pod });
  let contextFailure: Error | undefined;
  try {
    await onCreated?.(created);
    let failure: string | undefined;
    await watchObject(
      kube,
      ref,
      (object: KubernetesObject | undefined) => {
        const live: V1Pod | undefined = object;
        if (live === undefined) throw new Error(`build pod ${namespace}/${name} was deleted before it started`);
        failure = startFailure(live);
        return failure !== undefined || containerState(live) !== 'waiting';
      },
      signal,
    );
    if (failure !== undefined) return { exitCode: -1, reason: failure, lines };

    const sink = lineSink(record);
    try {
      // client-node returns the `ws` WebSocket, whose types it does not export.
      const connection = (await new Attach(kube.config).attach(namespace, name, buildContainer, sink, sink, context, false)) as unknown as AttachedSocket;
      await new Promise<void>((resolve) => {
        connection.addEventListener('close', () => {
          resolve();
        });
        signal.addEventListener('abort', () => {
          connection.close();
        }, { once: true });
        // A context that fails half-way never ends: the pod would wait for the rest until its deadline.
        context.once('error', (err) => {
          contextFailure = err;
          connection.close();
        });
      });
    } catch {
      // It ended before we could attach (a failure at once): its log says why.
      const log = await kube.request<string>('GET', `${await kube.path(ref)}/log`, { query: { container: buildContainer }, responseType: 'text' }).catch(() => '');
      for (const line of log.split('\n')) record(line);
    }
    sink.end();
    if (contextFailure !== undefined) throw new UserError(`sending the build context failed: ${contextFailure.message}`, { exitCode: exitCodes.buildFailed });

    const done: V1Pod | undefined = await watchObject(kube, ref, (object) => containerState(object) === 'terminated', signal);
    const terminated = done?.status?.containerStatuses?.find((status) => status.name === buildContainer)?.state?.terminated;
    return { exitCode: terminated?.exitCode ?? -1, reason: terminated?.reason, message: terminated?.message, lines };
  } catch (err) {
    if (signal.aborted) throw new InterruptedError(`stopped: build pod ${namespace}/${name} was deleted, nothing was built or deployed`);
    throw err;
  } finally {
    await kube.request('DELETE', await kube.path(ref), { body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 } }).catch(() => undefined);
  }
}
