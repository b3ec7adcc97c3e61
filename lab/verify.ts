import type { KubeClient } from '../core/kube/client.ts';
import { forwardToService, type Forward } from '../core/kube/port-forward.ts';
import type { Output } from '../core/output.ts';
import { demoDefaults, demoServices } from '../demo/options.ts';
import { checkAutoscalers, autoscalersTitle } from './checks/autoscalers.ts';
import { failed, type CheckResult, type Source } from './checks/check.ts';
import { checkMesh, meshLayer, meshNotInstalled } from './checks/mesh.ts';
import { checkRedMetrics } from './checks/metrics.ts';
import { checkRequests } from './checks/requests.ts';
import { checkTraces, type JaegerTrace } from './checks/traces.ts';
import { readLayerRecord } from './layers.ts';
import { demoFrontend, jaegerQuery, prometheus, serviceProblem, type LabService } from './services.ts';

export interface VerifyOptions {
  /** Requests sent through the frontend, each followed into Jaeger. */
  readonly requests: number;
  /** How long a check waits for its data to arrive (spans batched, the next scrape, the HPA's next read). */
  readonly waitMs: number;
  readonly output: Output;
}

/** What the request, trace and metrics checks talk to: the cluster's Services through port-forwards, or local processes in tests. */
export interface CheckTargets {
  readonly frontend: Source;
  readonly jaeger: Source;
  readonly prometheus: Source;
  /** PromQL matchers narrowing the services' series to the lab's, e.g. `namespace="tracelab-demo"`; '' for none. */
  readonly metricsSelector: string;
  /** The cluster's account of why a piece failed (a Service without ready endpoints and why). */
  readonly diagnose?: Partial<Record<'backend' | 'frontend' | 'jaeger' | 'prometheus', () => Promise<string | undefined>>>;
}

/**
 * Requests through the frontend, each request's trace in Jaeger as one frontend → backend chain,
 * both services' RED metrics in Prometheus. Needs no Kubernetes: the targets are URLs.
 */
export async function runServiceChecks(targets: CheckTargets, options: VerifyOptions): Promise<{ results: CheckResult[]; traces: ReadonlyMap<string, JaegerTrace> }> {
  const { output } = options;
  output.info(`… sending ${options.requests} requests through the frontend`);
  const requests = await checkRequests(targets.frontend, options.requests, async () => {
    const backend = await targets.diagnose?.backend?.();
    const frontend = await targets.diagnose?.frontend?.();
    return [frontend, backend].filter((part) => part !== undefined).join('; ') || undefined;
  });
  const traceIds = requests.outcomes.filter((outcome) => outcome.status === 200 && outcome.traceId !== undefined).map((outcome) => outcome.traceId ?? '');
  output.info(`… looking up ${traceIds.length} traces in Jaeger (waiting up to ${Math.round(options.waitMs / 1000)} s for their spans)`);
  const traces = await checkTraces(targets.jaeger, traceIds, { waitMs: options.waitMs, diagnose: targets.diagnose?.jaeger });
  output.info("… asking Prometheus for both services' RED metrics");
  const metrics = await checkRedMetrics(targets.prometheus, {
    services: demoServices,
    selector: targets.metricsSelector,
    waitMs: options.waitMs,
    diagnose: targets.diagnose?.prometheus,
  });
  return { results: [requests.result, traces.result, metrics], traces: traces.traces };
}

/** The demo's namespace as its ApplySet record names it. */
function demoNamespace(namespaces: readonly string[]): string {
  return namespaces.find((namespace) => namespace !== 'kube-system') ?? demoDefaults.namespace;
}

/**
 * `tracelab verify` against the live lab: the layers' records say what is installed; each
 * Service is reached through a port-forward once it has a ready endpoint (else the reason is the
 * check's failure); the mesh rows are "not installed" without the mesh layer. Reads only, but
 * for the mesh's two probe pods, which it deletes again.
 */
export async function verifyLab(kube: KubeClient, options: VerifyOptions): Promise<CheckResult[]> {
  const [demo, monitoring, mesh] = await Promise.all(['demo', 'monitoring', meshLayer].map((layer) => readLayerRecord(kube, layer)));
  const namespace = demoNamespace(demo?.namespaces ?? []);
  const forwards: Forward[] = [];
  // What the port-forward heard when a connection through it failed (the kubelet's refusal, a pod gone).
  const forwardErrors = new Map<string, string>();
  const reach = async (service: LabService, missing: string | undefined): Promise<Source> => {
    if (missing !== undefined) return { unavailable: missing };
    const problem = await serviceProblem(kube, service);
    if (problem !== undefined) return { unavailable: problem };
    const forward = await forwardToService(kube, service.namespace, service.service, service.port, {
      onError: (message) => forwardErrors.set(service.service, message),
    });
    forwards.push(forward);
    return { url: `http://127.0.0.1:${forward.port}` };
  };
  const noDemo = demo === undefined ? 'the demo layer is not installed — npm run deploy:demo' : undefined;
  const noMonitoring = monitoring === undefined ? 'the monitoring layer is not installed — tracelab deploy monitoring' : undefined;
  const diagnose = (target: { namespace: string; service: string }) => async () => {
    const problem = await serviceProblem(kube, target);
    const heard = forwardErrors.get(target.service);
    return problem ?? (heard === undefined ? undefined : `the port-forward to Service ${target.namespace}/${target.service} failed: ${heard}`);
  };
  try {
    const targets: CheckTargets = {
      frontend: await reach(demoFrontend(namespace), noDemo),
      jaeger: await reach(jaegerQuery, noMonitoring),
      // Without the demo there are no series to wait for.
      prometheus: await reach(prometheus, noMonitoring ?? noDemo),
      metricsSelector: `namespace="${namespace}"`,
      diagnose: {
        backend: diagnose({ namespace, service: 'backend' }),
        frontend: diagnose(demoFrontend(namespace)),
        jaeger: diagnose(jaegerQuery),
        prometheus: diagnose(prometheus),
      },
    };
    const { results, traces } = await runServiceChecks(targets, options);
    options.output.info('… reading the autoscalers');
    results.push(
      noDemo === undefined
        ? await checkAutoscalers(kube, { namespace, services: demoServices, waitMs: options.waitMs })
        : failed('autoscalers', autoscalersTitle, noDemo),
    );
    if (mesh === undefined) results.push(...meshNotInstalled());
    else {
      options.output.info(`… checking the mesh: its proxies, Envoy's spans and metrics, and two probe pods in ${namespace} (a plaintext call, a caller other than frontend)`);
      const warn = (line: string): void => {
        options.output.warn(line);
      };
      results.push(...(await checkMesh(kube, { namespace, traces, prometheus: targets.prometheus, probeTimeoutMs: Math.max(options.waitMs, 60_000), warn })));
    }
    return results;
  } finally {
    await Promise.all(forwards.map((forward) => forward.close()));
  }
}

export function verifyPassed(results: readonly CheckResult[]): boolean {
  return results.every((result) => result.status !== 'fail');
}

/** The pass/fail table: one row per check, the reason of each failure in full, then the count. */
export function formatChecks(results: readonly CheckResult[]): string[] {
  const mark = { pass: '✓', fail: '✗', 'not-installed': '-' } as const;
  const label = { pass: 'pass', fail: 'FAIL', 'not-installed': 'not installed' } as const;
  const titleWidth = Math.max(...results.map((result) => result.title.length));
  const labelWidth = Math.max(...results.map((result) => label[result.status].length));
  const lines = results.map((result) => `${mark[result.status]} ${result.title.padEnd(titleWidth)}  ${label[result.status].padEnd(labelWidth)}  ${result.detail}`);
  const count = (status: CheckResult['status']): number => results.filter((result) => result.status === status).length;
  lines.push(`verify: ${count('pass')} passed, ${count('fail')} failed, ${count('not-installed')} not installed`);
  return lines;
}
