/**
 * `tracelab loadtest <scenario>`: the load (k6 in the cluster or node from here), the autoscalers'
 * timeline while it runs (and after, until they are back at their minimum when the scenario
 * says so), then one summary, the thresholds, the timeline table and links to Grafana and Jaeger.
 */
import { randomBytes } from 'node:crypto';
import type { V1Service } from '@kubernetes/client-node';
import type { GlobalOptions } from '../core/context.ts';
import { InterruptedError, UserError } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { withKube } from '../core/kube/commands.ts';
import { forwardToService } from '../core/kube/port-forward.ts';
import { servicePort } from '../demo/render.ts';
import { runLinks } from './links.ts';
import { runK6Job, renderK6Objects } from './runners/k6.ts';
import { InterruptedNodeRun, planSteps, runNodeLoad } from './runners/node.ts';
import { loadSeconds, plannedRequests } from './scenario.ts';
import { thresholdsFailedExitCode, type LoadtestSettings } from './options.ts';
import { evaluateThresholds, summaryLines, type Measured } from './summary.ts';
import { replicaRange, settle, startTimeline, timelineTable, type Timeline } from './timeline.ts';

/** A run stopped by its thresholds: the summary above says which. */
export class ThresholdsFailedError extends UserError {
  constructor(failed: readonly string[]) {
    super(`thresholds failed: ${failed.join('; ')}`, { exitCode: thresholdsFailedExitCode });
    this.name = 'ThresholdsFailedError';
  }
}

/** What the run will do, for the first lines and for --dry-run. */
export function planLines(settings: LoadtestSettings): string[] {
  const { scenario, runner } = settings;
  const lines = [
    `loadtest ${scenario.name}: ${scenario.intent}`,
    `  ${String(Math.round(plannedRequests(scenario)))} requests over ${String(loadSeconds(scenario))} s to ${scenario.path}${Object.keys(scenario.headers).length > 0 ? ` (${Object.entries(scenario.headers).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}, ${runner} runner, ${settings.target ?? `frontend in ${settings.namespace}`}`,
  ];
  if (runner === 'node') {
    lines.push(`  steps: ${planSteps(scenario).map((step) => `${String(step.rate)}/s×${String(step.seconds)}s`).join(' ')}`);
  } else {
    lines.push(`  stages: start ${String(scenario.startRate)}/s, ${scenario.stages.map((stage) => `→${String(stage.rate)}/s in ${String(stage.seconds)}s`).join(', ')}`);
  }
  if (scenario.settleSeconds > 0 && settings.timeline) lines.push(`  then up to ${String(scenario.settleSeconds)} s for the autoscalers to return to their minimum`);
  return lines;
}

export async function runLoadtest(globals: GlobalOptions, settings: LoadtestSettings): Promise<void> {
  const { output } = globals;
  for (const line of planLines(settings)) output.info(line);
  if (globals.dryRun) {
    if (settings.runner === 'k6') {
      const objects = renderK6Objects(settings.scenario, k6Settings(settings, 'dryrun'));
      for (const object of [objects.configMap, objects.networkPolicy, objects.job]) output.info(`  would create ${object.kind ?? ''} ${settings.namespace}/${object.metadata?.name ?? ''}`);
    }
    output.info('dry run: no load sent');
    return;
  }
  const needsCluster = settings.runner === 'k6' || settings.target === undefined || settings.timeline;
  if (!needsCluster) {
    await measureAndReport(globals, settings, undefined);
    return;
  }
  await withKube(globals, (kube) => measureAndReport(globals, settings, kube));
}

function targetPort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function k6Settings(settings: LoadtestSettings, suffix: string) {
  return {
    namespace: settings.namespace,
    origin: settings.target ?? `http://frontend.${settings.namespace}.svc:${String(servicePort)}`,
    image: settings.k6Image,
    suffix,
    frontend: { app: 'frontend', port: servicePort },
    targetPort: settings.target === undefined ? undefined : targetPort(new URL(settings.target)),
  };
}

async function measureAndReport(globals: GlobalOptions, settings: LoadtestSettings, kube: KubeClient | undefined): Promise<void> {
  const { output } = globals;
  const signal = globals.signal ?? new AbortController().signal;
  const { scenario } = settings;
  if (kube !== undefined && (settings.runner === 'k6' || settings.target === undefined)) {
    const frontend = await kube.get<V1Service>({ apiVersion: 'v1', kind: 'Service', name: 'frontend', namespace: settings.namespace });
    if (frontend === undefined) {
      throw new UserError(`namespace ${settings.namespace} has no frontend Service: deploy the demo first (npm run deploy:demo), or pass the demo's --namespace`);
    }
  }
  const timeline: Timeline | undefined = kube !== undefined && settings.timeline
    ? startTimeline(kube, settings.namespace, { intervalMs: settings.sampleEveryMs, signal, onMiss: (reason) => { output.warn(`timeline: a sample could not be read (${reason}); going on without it`); } })
    : undefined;
  const startMs = Date.now();
  let loadEndMs: number;
  let measured: Measured | undefined;
  try {
    measured = await sendLoad(globals, settings, kube, signal);
    loadEndMs = Date.now();
    if (timeline !== undefined && scenario.settleSeconds > 0) {
      const above = await settle(timeline, scenario.settleSeconds * 1000, signal, (line) => { output.info(line); });
      if (above.length > 0) output.warn(`after ${String(scenario.settleSeconds)} s ${above.map((d) => `${d.name} is still at ${String(d.replicas)} replicas (minimum ${String(d.minReplicas)})`).join(', ')}`);
    }
  } catch (err) {
    if (err instanceof InterruptedNodeRun) measured = err.measured;
    // What was measured before the end (a load stopped with Ctrl-C) is still worth reading.
    if (measured === undefined) await timeline?.stop();
    else await report(globals, settings, measured, timeline, startMs, Date.now());
    throw err;
  }
  const failed = await report(globals, settings, measured, timeline, startMs, loadEndMs);
  if (signal.aborted) {
    throw new InterruptedError(`stopped while waiting for the autoscalers to scale back down; the load had ended (${failed.length === 0 ? 'every threshold passed' : `thresholds failed: ${failed.join('; ')}`})`);
  }
  if (failed.length > 0) throw new ThresholdsFailedError(failed);
}

async function sendLoad(globals: GlobalOptions, settings: LoadtestSettings, kube: KubeClient | undefined, signal: AbortSignal): Promise<Measured> {
  const { output } = globals;
  const { scenario } = settings;
  if (settings.runner === 'k6') {
    if (kube === undefined) throw new Error('the k6 runner needs the cluster');
    const objects = renderK6Objects(scenario, k6Settings(settings, randomBytes(3).toString('hex')));
    return runK6Job(kube, objects, {
      signal,
      onStatus: (line) => { output.info(line); },
      onLine: (line) => { output.info(`  k6 │ ${line}`); },
    });
  }
  const onStep = (line: string): void => { output.info(line); };
  if (settings.target !== undefined) return runNodeLoad(scenario, settings.target, { signal, onStep });
  if (kube === undefined) throw new Error('the node runner needs the cluster for its port-forward');
  const forward = await forwardToService(kube, settings.namespace, 'frontend', servicePort);
  output.info(`node: sending from this machine through a port-forward to ${settings.namespace}/frontend (127.0.0.1:${String(forward.port)})`);
  try {
    return await runNodeLoad(scenario, `http://127.0.0.1:${String(forward.port)}`, { signal, onStep });
  } finally {
    await forward.close();
  }
}

/** Prints the summary, the thresholds, the timeline and the links; returns the failed thresholds, in words. */
async function report(globals: GlobalOptions, settings: LoadtestSettings, measured: Measured | undefined, timeline: Timeline | undefined, startMs: number, loadEndMs: number): Promise<string[]> {
  const { output } = globals;
  await timeline?.stop();
  const endMs = Date.now();
  const failed: string[] = [];
  if (measured !== undefined) {
    const results = evaluateThresholds(settings.scenario, measured);
    // The load's own length: a k6 pod's start is not part of it, an interrupted run is shorter.
    const seconds = Math.min((loadEndMs - startMs) / 1000, loadSeconds(settings.scenario));
    for (const line of summaryLines(settings.scenario, settings.runner, measured, results, seconds)) output.info(line);
    for (const result of results) if (!result.passed) failed.push(`${result.name} ${result.actual} (limit ${result.limit})`);
  }
  if (timeline !== undefined) {
    for (const line of timelineTable(timeline.samples, startMs, loadEndMs)) output.info(line);
    const ranges = Object.entries(replicaRange(timeline.samples)).filter(([, range]) => range.minReplicas !== undefined);
    if (ranges.length > 0) output.info(`  replicas: ${ranges.map(([name, r]) => `${name} ${String(r.min)}–${String(r.max)}, ended at ${String(r.last)} (minimum ${String(r.minReplicas)})`).join('; ')}`);
  }
  output.info('look closer (npm run ui serves these)');
  for (const link of runLinks({ startMs, endMs })) output.info(`  ${link.label.padEnd(26)} ${link.url}`);
  return failed;
}
