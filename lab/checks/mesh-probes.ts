/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
/**
 * The mesh's two policy probes. Each is a one-shot pod in the demo's namespace that calls backend
 * once and prints what it got: one outside the mesh (injection off) whose plaintext call the
 * backend's proxy must refuse (STRICT mTLS), one in the mesh under the namespace's default
 * ServiceAccount, which backend's AuthorizationPolicy must deny (403). The pods run the backend's
 * own image (it has Node), under Pod Security `restricted`; a NetworkPolicy lets them past the
 * demo's default deny so that it is the mesh, not the CNI, that says no. Pods and policy are
 * deleted whatever the outcome.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V1LocalObjectReference, V1Pod } from '@kubernetes/client-node';
import { errorMessage } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { isNotFound } from '../../core/kube/errors.ts';
import type { NetworkPolicy } from '../../demo/network-policies.ts';
import { servicePort } from '../../demo/render.ts';
import { restrictedContainerSecurity } from '../../monitoring/common.ts';
import { failed, onItsWay, passed, type CheckResult } from './check.ts';

export const probeLabel = 'tracelab.dev/verify-probe';
const probeContainer = 'probe';
const resultMarker = 'tracelab-probe ';
/** The image's service user (Dockerfile). */
const serviceUser = 10001;
const callTimeoutMs = 5_000;

export type ProbeKind = 'plaintext' | 'caller';

export interface ProbeSettings {
  readonly namespace: string;
  /** backend's image, which has Node in it, and the pull secrets its pods use. */
  readonly image: string;
  readonly imagePullSecrets: readonly V1LocalObjectReference[];
  /** backend's pods' labels and port: the NetworkPolicy opens that port to the probes. */
  readonly backend: { readonly app: string; readonly port: number };
  /** Makes the names unique per run. */
  readonly suffix: string;
}

/** What a probe's one call got: an HTTP answer, or the connection error's code. */
export type ProbeOutcome = { readonly status: number; readonly body: string } | { readonly error: string; readonly message: string };

/** One GET with a deadline; prints one marked JSON line either way. Runs as `node -e SCRIPT URL`. */
const probeScript = `
const url = process.argv[1];
const say = (result) => console.log(${JSON.stringify(resultMarker)} + JSON.stringify(result));
fetch(url, { signal: AbortSignal.timeout(${String(callTimeoutMs)}) }).then(
  async (response) => say({ status: response.status, body: (await response.text()).slice(0, 200) }),
  (err) => {
    let cause = err;
    while (cause.cause !== undefined && cause.cause !== cause) cause = cause.cause;
    say({ error: typeof cause.code === 'string' ? cause.code : (cause.name ?? 'Error'), message: String(cause.message ?? cause) });
  },
);
`;

function probeName(kind: ProbeKind, suffix: string): string {
  return `tracelab-probe-${kind}-${suffix}`;
}

function renderProbePod(kind: ProbeKind, settings: ProbeSettings): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: probeName(kind, settings.suffix),
      namespace: settings.namespace,
      // The label form of the injection switch: off puts the plaintext probe outside the mesh.
      labels: { 'app.kubernetes.io/managed-by': 'tracelab', [probeLabel]: kind, 'sidecar.istio.io/inject': kind === 'caller' ? 'true' : 'false' },
    },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: 120,
      terminationGracePeriodSeconds: 0,
      // The caller's identity in the mesh is the namespace's default ServiceAccount: not frontend's.
      serviceAccountName: 'default',
      automountServiceAccountToken: false,
      ...(settings.imagePullSecrets.length === 0 ? {} : { imagePullSecrets: settings.imagePullSecrets.map((secret) => ({ name: secret.name })) }),
      securityContext: { runAsNonRoot: true, runAsUser: serviceUser, runAsGroup: serviceUser, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: probeContainer,
          image: settings.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['node', '-e', probeScript, `http://backend.${settings.namespace}.svc:${String(settings.backend.port)}/healthz`],
          resources: {
            requests: { cpu: '10m', memory: '32Mi', 'ephemeral-storage': '1Mi' },
            limits: { cpu: '200m', memory: '128Mi', 'ephemeral-storage': '16Mi' },
          },
          securityContext: structuredClone(restrictedContainerSecurity),
        },
      ],
    },
  };
}

/** The two probe pods, and two NetworkPolicies: the probes may call backend's port, backend may be called by them; pure. */
export function renderProbes(settings: ProbeSettings): { networkPolicies: NetworkPolicy[]; pods: Record<ProbeKind, V1Pod> } {
  const port = { protocol: 'TCP', port: settings.backend.port };
  const probes = { matchExpressions: [{ key: probeLabel, operator: 'Exists' }] };
  const backend = { matchLabels: { app: settings.backend.app } };
  const policy = (name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `tracelab-probes-${name}-${settings.suffix}`, namespace: settings.namespace, labels: { 'app.kubernetes.io/managed-by': 'tracelab', [probeLabel]: 'policy' } },
    spec,
  });
  return {
    networkPolicies: [
      policy('to-backend', { podSelector: probes, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: backend }], ports: [port] }] }),
      policy('backend-from-probes', { podSelector: backend, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: probes }], ports: [port] }] }),
    ],
    pods: { plaintext: renderProbePod('plaintext', settings), caller: renderProbePod('caller', settings) },
  };
}

/** The verify rows the probes fill. */
export const probeChecks = {
  plaintext: { id: 'mesh-plaintext', title: 'plaintext call to backend refused' },
  caller: { id: 'mesh-caller', title: 'caller other than frontend denied' },
} as const;

/** A proxy that wants mutual TLS drops a plaintext connection: undici sees it closed or reset. */
const connectionDropped = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);

/** The verdict on one probe's outcome. */
export function judgeProbe(kind: ProbeKind, outcome: ProbeOutcome): CheckResult {
  const { id, title } = probeChecks[kind];
  if (kind === 'plaintext') {
    if ('status' in outcome) return failed(id, title, `backend answered a plaintext call from outside the mesh with HTTP ${String(outcome.status)}: mutual TLS is not enforced (PeerAuthentication STRICT)`);
    if (connectionDropped.has(outcome.error)) return passed(id, title, `the connection was closed by backend's proxy (${outcome.error})`);
    if (outcome.error === 'TimeoutError') return failed(id, title, `no answer within ${String(callTimeoutMs / 1000)} s: the call was dropped on the way (a NetworkPolicy?), not refused by backend's proxy`);
    return failed(id, title, `the call failed before reaching a proxy: ${outcome.error} ${outcome.message}`);
  }
  if ('error' in outcome) return failed(id, title, `the call failed before any policy was applied: ${outcome.error} ${outcome.message}`);
  if (outcome.status === 403 && /RBAC/.test(outcome.body)) return passed(id, title, `HTTP 403 from backend's proxy: ${outcome.body.trim()}`);
  return failed(id, title, `backend answered a caller with the namespace's default ServiceAccount with HTTP ${String(outcome.status)}: only frontend's may call it (AuthorizationPolicy backend-from-frontend)`);
}

/** The probe's marked line in its log, read back. */
export function parseProbeLog(log: string): ProbeOutcome | undefined {
  const line = log.split('\n').find((entry) => entry.startsWith(resultMarker));
  if (line === undefined) return undefined;
  const parsed = JSON.parse(line.slice(resultMarker.length)) as Partial<{ status: number; body: string; error: string; message: string }>;
  if (typeof parsed.status === 'number') return { status: parsed.status, body: parsed.body ?? '' };
  return { error: parsed.error ?? 'Error', message: parsed.message ?? '' };
}

/** Ended with its outcome, cannot start (a container's waiting reason), or still going (undefined). */
async function probeState(kube: KubeClient, pod: V1Pod): Promise<ProbeOutcome | { cannot: string } | undefined> {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const live = await kube.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', name, namespace });
  if (live === undefined) return { cannot: 'the pod went away (deleted by someone else, or evicted)' };
  const statuses = [...(live.status?.initContainerStatuses ?? []), ...(live.status?.containerStatuses ?? [])];
  const probe = statuses.find((status) => status.name === probeContainer);
  if (probe?.state?.terminated !== undefined) {
    const log = await kube.request<string>('GET', `${await kube.path({ apiVersion: 'v1', kind: 'Pod', name, namespace })}/log`, { query: { container: probeContainer }, responseType: 'text' });
    return parseProbeLog(log) ?? { cannot: `it printed no result (exit ${String(probe.state.terminated.exitCode)}): ${log.trim().split('\n').slice(-3).join(' | ')}` };
  }
  for (const status of statuses) {
    const waiting = status.state?.waiting;
    if (waiting?.reason !== undefined && !onItsWay.has(waiting.reason)) return { cannot: `${status.name} ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
  }
  if (live.status?.phase === 'Failed') return { cannot: `the pod failed: ${live.status.reason ?? ''} ${live.status.message ?? ''}`.trim() };
  return undefined;
}

export interface ProbeRunOptions {
  /** How long a probe pod may take to pull, start and finish. */
  readonly timeoutMs: number;
  readonly pollMs?: number;
  /** Told when a probe pod or policy could not be deleted afterwards (with the command that does it). */
  readonly onCleanupProblem?: (line: string) => void;
}

/**
 * Runs both probes against backend and judges them. Reads backend's Deployment for its image; the
 * pods and their NetworkPolicies are deleted afterwards, and any a killed earlier run left are
 * deleted first (only objects carrying the probe label).
 */
export async function runMeshProbes(kube: KubeClient, namespace: string, options: ProbeRunOptions): Promise<CheckResult[]> {
  const kinds: ProbeKind[] = ['plaintext', 'caller'];
  const backend = await kube.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'backend', namespace });
  const podSpec = backend?.spec?.template.spec;
  const image = podSpec?.containers.find((container) => container.name === 'server')?.image;
  if (image === undefined) return kinds.map((kind) => failed(probeChecks[kind].id, probeChecks[kind].title, `no backend Deployment with a server container in ${namespace} to probe`));
  const settings: ProbeSettings = {
    namespace,
    image,
    imagePullSecrets: podSpec?.imagePullSecrets ?? [],
    backend: { app: 'backend', port: servicePort },
    suffix: Date.now().toString(36),
  };
  const { networkPolicies, pods } = renderProbes(settings);
  await deleteProbeObjects(kube, namespace);
  let results: CheckResult[];
  try {
    results = await runProbePods(kube, { namespace, networkPolicies, pods, kinds, timeoutMs: options.timeoutMs, pollMs: options.pollMs ?? 1_000 });
  } finally {
    const left = await deleteProbeObjects(kube, namespace);
    if (left !== undefined) options.onCleanupProblem?.(`${left} — delete them with kubectl delete pod,networkpolicy -n ${namespace} -l ${probeLabel}`);
  }
  return results;
}

async function runProbePods(
  kube: KubeClient,
  run: { namespace: string; networkPolicies: readonly NetworkPolicy[]; pods: Record<ProbeKind, V1Pod>; kinds: readonly ProbeKind[]; timeoutMs: number; pollMs: number },
): Promise<CheckResult[]> {
  const { namespace, pods, kinds } = run;
  const failedProbe = (kind: ProbeKind, why: string): CheckResult => failed(probeChecks[kind].id, probeChecks[kind].title, why);
  try {
    for (const policy of run.networkPolicies) await kube.request('POST', await kube.path({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace }), { body: policy });
  } catch (err) {
    return kinds.map((kind) => failedProbe(kind, `could not create the probes' NetworkPolicies: ${errorMessage(err)}`));
  }
  const refusals = await Promise.all(
    kinds.map(async (kind) => {
      try {
        await kube.request('POST', await kube.path({ apiVersion: 'v1', kind: 'Pod', namespace }), { body: pods[kind] });
        return undefined;
      } catch (err) {
        return `could not create probe pod ${pods[kind].metadata?.name ?? ''}: ${errorMessage(err)}`;
      }
    }),
  );
  const deadline = Date.now() + run.timeoutMs;
  const results: CheckResult[] = [];
  for (const [index, kind] of kinds.entries()) {
    const refused = refusals[index];
    if (refused !== undefined) {
      results.push(failedProbe(kind, refused));
      continue;
    }
    let state = await probeState(kube, pods[kind]);
    while (state === undefined && Date.now() < deadline) {
      await sleep(run.pollMs);
      state = await probeState(kube, pods[kind]);
    }
    const name = `${namespace}/${pods[kind].metadata?.name ?? ''}`;
    if (state === undefined) results.push(failedProbe(kind, `probe pod ${name} did not finish within ${String(Math.round(run.timeoutMs / 1000))} s`));
    else if ('cannot' in state) results.push(failedProbe(kind, `probe pod ${name} could not run: ${state.cannot}`));
    else results.push(judgeProbe(kind, state));
  }
  return results;
}

/** Deletes the pods and NetworkPolicies carrying the probe label in the namespace; what could not be deleted, if anything. */
export async function deleteProbeObjects(kube: KubeClient, namespace: string): Promise<string | undefined> {
  const problems: string[] = [];
  for (const [apiVersion, kind] of [
    ['v1', 'Pod'],
    ['networking.k8s.io/v1', 'NetworkPolicy'],
  ] as const) {
    try {
      await kube.request('DELETE', await kube.path({ apiVersion, kind, namespace }), {
        query: { labelSelector: probeLabel },
        body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 },
      });
    } catch (err) {
      if (!isNotFound(err)) problems.push(`${kind}s labelled ${probeLabel}: ${errorMessage(err)}`);
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
