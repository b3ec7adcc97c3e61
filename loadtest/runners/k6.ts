/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
/**
 * `--runner k6`: the scenario as a k6 Job in the demo's namespace. The script (loadtest/k6/script.ts,
 * TypeScript, which k6 runs as it is) and its config.json go in a ConfigMap; a NetworkPolicy lets
 * the k6 pod reach frontend past the demo's default deny; the Job runs the pinned k6 image under
 * Pod Security `restricted`. Its log is streamed as progress; handleSummary's one line becomes the
 * common summary. The Job, its pod, the ConfigMap and the NetworkPolicy are deleted whatever ends
 * the run (success, failure, Ctrl-C).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Event, V1ConfigMap, V1Job, V1Pod } from '@kubernetes/client-node';
import { InterruptedError, UserError, errorMessage } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { isNotFound } from '../../core/kube/errors.ts';
import type { NetworkPolicy } from '../../demo/network-policies.ts';
import { loadSeconds, type Scenario } from '../scenario.ts';
import { restrictedContainerSecurity } from '../../monitoring/common.ts';
import type { Measured } from '../summary.ts';
import { k6Config, summaryMarker } from './k6-config.ts';

/** The image's own user (k6), so the pod runs as it would anywhere. */
const k6User = 12345;
export const k6Container = 'k6';
const scriptDir = '/scripts';
const scriptSource = new URL('../k6/script.ts', import.meta.url);

export interface K6JobSettings {
  readonly namespace: string;
  /** Where frontend answers inside the cluster. */
  readonly origin: string;
  readonly image: string;
  /** Makes the names unique: k6-<scenario>-<suffix>. */
  readonly suffix: string;
  /** The frontend pods' labels and port, which the NetworkPolicy opens to the k6 pod. */
  readonly frontend: { readonly app: string; readonly port: number };
  /** `--target`'s port: the load goes there, anywhere, instead of to the frontend pods. */
  readonly targetPort?: number | undefined;
}

export interface K6Objects {
  readonly configMap: V1ConfigMap;
  readonly networkPolicy: NetworkPolicy;
  readonly job: V1Job;
}

/** The Job, its script and its NetworkPolicy; pure. */
export function renderK6Objects(scenario: Scenario, settings: K6JobSettings, script = readFileSync(scriptSource, 'utf8')): K6Objects {
  const name = `k6-${scenario.name}-${settings.suffix}`;
  const labels = { 'app.kubernetes.io/name': 'k6', 'app.kubernetes.io/managed-by': 'tracelab', 'tracelab.dev/loadtest': name };
  const metadata = { name, namespace: settings.namespace, labels };
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata,
    data: { 'script.ts': script, 'config.json': `${JSON.stringify(k6Config(scenario, settings.origin), null, 2)}\n` },
  };
  const networkPolicy: NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata,
    spec: {
      podSelector: { matchLabels: { 'tracelab.dev/loadtest': name } },
      policyTypes: ['Egress'],
      egress: [
        settings.targetPort === undefined
          ? { to: [{ podSelector: { matchLabels: { app: settings.frontend.app } } }], ports: [{ protocol: 'TCP', port: settings.frontend.port }] }
          : { ports: [{ protocol: 'TCP', port: settings.targetPort }] },
      ],
    },
  };
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      backoffLimit: 0,
      // The load, the last requests' timeout, and time to start; the kubelet stops a run that outlives it.
      activeDeadlineSeconds: loadSeconds(scenario) + scenario.requestTimeoutSeconds + 300,
      // Deleted by tracelab when the run ends; this only catches a run whose tracelab was killed.
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: k6User, runAsGroup: k6User, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: k6Container,
              image: settings.image,
              imagePullPolicy: 'IfNotPresent',
              args: ['run', '--no-color', `${scriptDir}/script.ts`],
              // No usage report: a lab may have no way out, and needs none.
              env: [{ name: 'K6_NO_USAGE_REPORT', value: 'true' }, { name: 'HOME', value: '/tmp' }],
              resources: {
                requests: { cpu: '100m', memory: '64Mi', 'ephemeral-storage': '16Mi' },
                limits: { cpu: '1', memory: '256Mi', 'ephemeral-storage': '64Mi' },
              },
              securityContext: structuredClone(restrictedContainerSecurity),
              volumeMounts: [
                { name: 'script', mountPath: scriptDir, readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'script', configMap: { name } },
            { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  };
  return { configMap, networkPolicy, job };
}

/** The summary line k6's handleSummary printed, or undefined. */
export function parseK6Summary(lines: readonly string[]): Measured | undefined {
  const line = lines.findLast((text) => text.startsWith(summaryMarker));
  if (line === undefined) return undefined;
  const parsed = JSON.parse(line.slice(summaryMarker.length)) as Partial<Measured>;
  if (typeof parsed.requests !== 'number' || typeof parsed.failed !== 'number' || parsed.latencyMs === undefined) return undefined;
  return { requests: parsed.requests, failed: parsed.failed, dropped: parsed.dropped ?? 0, latencyMs: parsed.latencyMs };
}

/** A log line with the kubelet's timestamp (`timestamps=true`): the time as a sortable key, and the text. */
export function splitTimestamp(line: string): { key: string; text: string } {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) ([\s\S]*)$/.exec(line);
  if (match === null) return { key: '', text: line };
  const [, seconds = '', fraction = '', zone = '', text = ''] = match;
  return { key: `${seconds}.${fraction.padEnd(9, '0')}${zone}`, text };
}

/**
 * Reads a pod's log polled with `timestamps=true&sinceTime=…`: sinceTime has whole seconds, so a
 * poll repeats the last second's lines; each line is handed on once, in order.
 */
export class LogFollower {
  private lastKey = '';
  private readonly seen = new Set<string>();

  /** The `sinceTime` of the next poll (undefined: from the start). */
  sinceTime(): string | undefined {
    return this.lastKey === '' ? undefined : `${this.lastKey.slice(0, 19)}Z`;
  }

  /** The new lines of one poll's text, without their timestamps. */
  take(text: string): string[] {
    const fresh: string[] = [];
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      const { key, text: said } = splitTimestamp(raw);
      if (key !== '' && (key < this.lastKey || this.seen.has(raw))) continue;
      this.seen.add(raw);
      if (key > this.lastKey) this.lastKey = key;
      // A progress bar redrawn with carriage returns: its last state.
      fresh.push(said.split('\r').filter((part) => part.trim() !== '').at(-1) ?? '');
    }
    return fresh;
  }
}

export interface K6RunOptions {
  readonly signal: AbortSignal;
  /** Progress: what tracelab does with the Job. */
  readonly onStatus: (line: string) => void;
  /** Each line k6 prints, as it comes (the summary line is kept, not passed on). */
  readonly onLine: (line: string) => void;
  /** How long the pod may take to start (image pull included). */
  readonly startTimeoutMs?: number;
  readonly pollMs?: number;
}

type PodState = { phase: 'waiting'; reason: string } | { phase: 'failed-to-start'; reason: string } | { phase: 'running' } | { phase: 'terminated'; exitCode: number; reason: string };

function podState(pod: V1Pod): PodState {
  const status = pod.status?.containerStatuses?.find((s) => s.name === k6Container);
  const state = status?.state;
  if (state?.terminated !== undefined) return { phase: 'terminated', exitCode: state.terminated.exitCode, reason: state.terminated.reason ?? '' };
  if (state?.running !== undefined) return { phase: 'running' };
  const waiting = state?.waiting;
  if (waiting?.reason !== undefined && /ErrImagePull|ImagePullBackOff|InvalidImageName|CreateContainerConfigError|CreateContainerError/.test(waiting.reason)) {
    return { phase: 'failed-to-start', reason: `${waiting.reason}: ${waiting.message ?? ''}`.trim() };
  }
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return { phase: 'terminated', exitCode: pod.status.phase === 'Succeeded' ? 0 : 1, reason: pod.status.reason ?? pod.status.phase };
  const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return { phase: 'waiting', reason: unschedulable?.message ?? waiting?.reason ?? pod.status?.phase ?? 'Pending' };
}

/**
 * Creates the objects, follows the Job's pod to its end while passing its log on, and returns
 * what k6 measured. Deletes everything it created, whatever happens.
 */
export async function runK6Job(kube: KubeClient, objects: K6Objects, options: K6RunOptions): Promise<Measured> {
  const { signal } = options;
  // A function, not the property: the linter would take the property for constant across awaits.
  const aborted = (): boolean => signal.aborted;
  const pollMs = options.pollMs ?? 2_000;
  const namespace = objects.job.metadata?.namespace ?? '';
  const name = objects.job.metadata?.name ?? '';
  const created: { apiVersion: string; kind: string }[] = [];
  const lines: string[] = [];
  try {
    let jobUid = '';
    for (const object of [objects.configMap, objects.networkPolicy, objects.job]) {
      const apiVersion = object.apiVersion ?? '';
      const kind = object.kind ?? '';
      const made = await kube.request<{ metadata?: { uid?: string } }>('POST', await kube.path({ apiVersion, kind, namespace }), { body: object });
      created.push({ apiVersion, kind });
      if (kind === 'Job') jobUid = made.metadata?.uid ?? '';
    }
    // Owned by the Job, so that its TTL removes them too when a killed tracelab could not.
    const owner = { apiVersion: 'batch/v1', kind: 'Job', name, uid: jobUid, blockOwnerDeletion: false };
    for (const object of [objects.configMap, objects.networkPolicy]) {
      const path = await kube.path({ apiVersion: object.apiVersion ?? '', kind: object.kind ?? '', namespace, name });
      await kube.request('PATCH', path, { body: { metadata: { ownerReferences: [owner] } }, contentType: 'application/merge-patch+json' });
    }
    options.onStatus(`k6: Job ${namespace}/${name} created (${objects.job.spec?.template.spec?.containers[0]?.image ?? ''})`);

    // The pod: wait until its container runs (or ends, or cannot start).
    const startDeadline = Date.now() + (options.startTimeoutMs ?? 180_000);
    let pod: V1Pod | undefined;
    let state: PodState = { phase: 'waiting', reason: 'no pod yet' };
    let said = Date.now();
    for (;;) {
      if (aborted()) throw new InterruptedError(`stopped: k6 Job ${namespace}/${name} deleted before its pod started; nothing was measured`);
      pod = (await kube.list<V1Pod>('v1', 'Pod', { namespace, labelSelector: `tracelab.dev/loadtest=${name}` })).items[0];
      if (pod === undefined) {
        const refused = await jobCreateFailure(kube, namespace, name);
        if (refused !== undefined) throw new UserError(`the k6 Job ${namespace}/${name} could not make its pod: ${refused}`);
      } else {
        state = podState(pod);
      }
      if (state.phase === 'failed-to-start') {
        throw new UserError(`the k6 pod cannot start: ${state.reason} — a lab without a way to Docker Hub needs the image on its nodes or in its registry (--k6-image REF), or run the same scenario with --runner node`);
      }
      if (state.phase !== 'waiting') break;
      if (Date.now() > startDeadline) throw new UserError(`the k6 pod did not start within ${String(Math.round((options.startTimeoutMs ?? 180_000) / 1000))} s: ${state.reason}`, { exitCode: 6 });
      if (Date.now() - said > 15_000) {
        said = Date.now();
        options.onStatus(`k6: waiting for the pod to start: ${state.reason}`);
      }
      await sleep(pollMs / 2, undefined, { signal }).catch(() => undefined);
    }
    const podName = pod?.metadata?.name ?? '';
    options.onStatus(`k6: pod ${podName} ${state.phase === 'running' ? 'running' : 'already ended'}; its log follows`);

    // The log, polled until the container ends; each poll asks from the second the last one ended.
    const follower = new LogFollower();
    let logError: string | undefined;
    const readLog = async (): Promise<void> => {
      try {
        const text = await kube.request<string>('GET', `${await kube.path({ apiVersion: 'v1', kind: 'Pod', name: podName, namespace })}/log`, {
          query: { container: k6Container, timestamps: true, sinceTime: follower.sinceTime() },
          responseType: 'text',
        });
        logError = undefined;
        for (const line of follower.take(text)) {
          lines.push(line);
          if (!line.startsWith(summaryMarker)) options.onLine(line);
        }
      } catch (err) {
        logError = errorMessage(err);
      }
    };
    while (state.phase === 'running') {
      if (aborted()) throw new InterruptedError(`stopped: k6 Job ${namespace}/${name} deleted mid-run; thresholds not judged`);
      await readLog();
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
      const live = await kube.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', name: podName, namespace });
      if (live === undefined) throw new Error(`the k6 pod ${namespace}/${podName} went away mid-run (deleted by someone else, or evicted)`);
      state = podState(live);
    }
    if (aborted()) throw new InterruptedError(`stopped: k6 Job ${namespace}/${name} deleted as its pod ended; thresholds not judged`);
    await readLog();
    const exitCode = state.phase === 'terminated' ? state.exitCode : -1;
    const measured = parseK6Summary(lines);
    if (measured === undefined) {
      const tail = lines.slice(-10).map((line) => `\n  │ ${line}`).join('');
      const why = logError !== undefined ? `its log could not be read (${logError})` : `exit code ${String(exitCode)}${tail === '' ? ', no output' : `; its last lines:${tail}`}`;
      throw new Error(`k6 printed no summary: ${why}`);
    }
    // 99: k6's own verdict that a threshold failed; tracelab judges the same thresholds below.
    if (exitCode !== 0 && exitCode !== 99) options.onStatus(`k6: exited ${String(exitCode)} after printing its summary`);
    return measured;
  } finally {
    const left = await deleteAll(kube, namespace, name, created);
    if (left.length > 0) {
      options.onStatus(`k6: could not delete ${left.join('; ')} — delete them with kubectl delete job,configmap,networkpolicy -n ${namespace} ${name}`);
    } else if (created.length > 0) {
      options.onStatus(`k6: Job ${namespace}/${name}, its pod, ConfigMap and NetworkPolicy deleted`);
    }
  }
}

/** A reason the Job controller gave for not making the pod (Pod Security, quota), if any. */
async function jobCreateFailure(kube: KubeClient, namespace: string, name: string): Promise<string | undefined> {
  const events = await kube.list<CoreV1Event>('v1', 'Event', { namespace, fieldSelector: `involvedObject.kind=Job,involvedObject.name=${name}` });
  return events.items.find((event) => event.reason === 'FailedCreate')?.message;
}

async function deleteAll(kube: KubeClient, namespace: string, name: string, created: readonly { apiVersion: string; kind: string }[]): Promise<string[]> {
  const left: string[] = [];
  for (const { apiVersion, kind } of [...created].reverse()) {
    try {
      // Background: the Job's pods go with it (the garbage collector deletes them).
      await kube.request('DELETE', await kube.path({ apiVersion, kind, name, namespace }), { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' } });
    } catch (err) {
      if (!isNotFound(err)) left.push(`${kind} ${namespace}/${name} (${errorMessage(err)})`);
    }
  }
  return left;
}
