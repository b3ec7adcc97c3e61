import type { V1ContainerStateWaiting, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import { failed, onItsWay, passed, type CheckResult, type Source } from './check.ts';
import { probeChecks, runMeshProbes } from './mesh-probes.ts';
import { instantQuery } from './metrics.ts';
import { shapeOf, type JaegerTrace } from './traces.ts';

/** The mesh layer's name, as its ApplySet record will carry it. */
export const meshLayer = 'mesh';

/** The rows the mesh adds to `verify`; without the mesh they are listed as not installed. */
export const meshChecks = [
  { id: 'mesh-spans', title: 'istio-proxy spans in each trace' },
  { id: 'mesh-metrics', title: 'istio_requests_total in Prometheus' },
  probeChecks.plaintext,
  probeChecks.caller,
] as const;

export function meshNotInstalled(): CheckResult[] {
  return meshChecks.map((check) => ({ ...check, status: 'not-installed', detail: `the ${meshLayer} layer is not installed: nothing to check` }));
}

const proxyContainer = 'istio-proxy';
const noProxy = 'made before the mesh was installed, or injection is off for its namespace (npm run deploy:demo rolls the demo into the mesh)';
/** What the injector adds before the proxy, in the proxy's image: istio-cni's check of the pod's traffic redirect, or the old iptables init. */
const proxyInitContainers = ['istio-validation', 'istio-init'];

/** Why a pod's proxy is not running, ranked: 0 it cannot start (the kubelet's reason), 1 it is starting or not ready, 2 it has none. */
type ProxyFinding = { detail: string; rank: 0 | 1 | 2 };

function findProxyProblem(pod: V1Pod): ProxyFinding | undefined {
  const name = `pod ${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
  const declared = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((container) => container.name === proxyContainer);
  if (!declared) return { detail: `${name} has no ${proxyContainer} container: ${noProxy}`, rank: 2 };
  const statuses: V1ContainerStatus[] = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waitingOn = (container: string, waiting: V1ContainerStateWaiting): ProxyFinding => ({
    detail: `${name} ${container} ${waiting.reason ?? 'waiting'}${waiting.message ? `: ${waiting.message}` : ''}`,
    rank: waiting.reason === undefined || onItsWay.has(waiting.reason) ? 1 : 0,
  });
  // An init container of the proxy's that cannot start holds the proxy at PodInitializing: its reason is the cause.
  for (const init of proxyInitContainers) {
    const held = statuses.find((s) => s.name === init)?.state?.waiting;
    if (held !== undefined && held.reason !== 'PodInitializing') return waitingOn(init, held);
  }
  const status = statuses.find((s) => s.name === proxyContainer);
  if (status === undefined) return { detail: `${name} ${proxyContainer} not started yet (pod ${pod.status?.phase ?? 'Pending'})`, rank: 1 };
  if (status.state?.waiting !== undefined) return waitingOn(proxyContainer, status.state.waiting);
  const terminated = status.state?.terminated ?? status.lastState?.terminated;
  if (!status.ready) return { detail: `${name} ${proxyContainer} not ready${terminated ? ` (last exit ${terminated.exitCode}${terminated.reason ? ` ${terminated.reason}` : ''})` : ''}`, rank: 1 };
  return undefined;
}

/** Why a pod's istio-proxy is not running (missing, waiting with its reason, not ready), or undefined. */
export function proxyProblem(pod: V1Pod): string | undefined {
  return findProxyProblem(pod)?.detail;
}

/** Every pod's proxy problem, the most telling first: a proxy that cannot start, then one on its way, then pods without one. */
export function proxyProblems(pods: readonly V1Pod[]): string[] {
  return pods
    .map(findProxyProblem)
    .filter((finding) => finding !== undefined)
    .sort((a, b) => a.rank - b.rank)
    .map((finding) => finding.detail);
}

/**
 * With the mesh installed: its proxies run in every demo pod; each trace has Envoy's spans;
 * Prometheus has istio_requests_total; a plaintext call from outside the mesh and a call from a
 * ServiceAccount other than frontend's are both refused (mesh-probes.ts, two short-lived pods).
 */
export async function checkMesh(
  kube: KubeClient,
  options: { namespace: string; traces: ReadonlyMap<string, JaegerTrace>; prometheus: Source; probeTimeoutMs: number; warn: (line: string) => void },
): Promise<CheckResult[]> {
  const pods = (await kube.list<V1Pod>('v1', 'Pod', { namespace: options.namespace })).items.filter((pod) => pod.metadata?.deletionTimestamp == null);
  const problems = proxyProblems(pods);
  const results: CheckResult[] = [];
  const proxies = { id: 'mesh-proxies', title: 'istio-proxy running in every demo pod' };
  if (pods.length === 0) results.push(failed(proxies.id, proxies.title, `no pods in ${options.namespace}`));
  else if (problems.length > 0) results.push(failed(proxies.id, proxies.title, `${problems.length} of ${pods.length} pods: ${problems.slice(0, 3).join('; ')}`));
  else results.push(passed(proxies.id, proxies.title, `${pods.length} pods`));
  const proxiesDown = results[0]?.status === 'fail' ? `the mesh proxies do not run (${proxies.title} failed)` : undefined;

  const [spans, metrics, plaintext, caller] = meshChecks;
  if (proxiesDown !== undefined) results.push(failed(spans.id, spans.title, proxiesDown));
  else if (options.traces.size === 0) results.push(failed(spans.id, spans.title, 'no whole trace to look at (see the trace check)'));
  else {
    const without = [...options.traces.entries()].filter(([, trace]) => shapeOf(trace).proxySpans === 0).map(([id]) => id);
    results.push(without.length === 0 ? passed(spans.id, spans.title, `${options.traces.size} traces`) : failed(spans.id, spans.title, `${without.length} traces without Envoy spans, e.g. ${without[0] ?? ''}`));
  }

  if (proxiesDown !== undefined) results.push(failed(metrics.id, metrics.title, proxiesDown));
  else if ('unavailable' in options.prometheus) results.push(failed(metrics.id, metrics.title, options.prometheus.unavailable));
  else {
    try {
      const series = await instantQuery(options.prometheus.url, `sum by (destination_workload) (istio_requests_total{destination_workload_namespace="${options.namespace}"})`);
      results.push(series.length > 0 ? passed(metrics.id, metrics.title, series.map((s) => s.labels.destination_workload ?? '?').join(', ')) : failed(metrics.id, metrics.title, 'no istio_requests_total series for the demo'));
    } catch (err) {
      results.push(failed(metrics.id, metrics.title, err instanceof Error ? err.message : String(err)));
    }
  }
  if (proxiesDown !== undefined) results.push(failed(plaintext.id, plaintext.title, proxiesDown), failed(caller.id, caller.title, proxiesDown));
  else results.push(...(await runMeshProbes(kube, options.namespace, { timeoutMs: options.probeTimeoutMs, onCleanupProblem: options.warn })));
  return results;
}
