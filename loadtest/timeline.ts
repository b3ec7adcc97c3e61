import { setTimeout as sleep } from 'node:timers/promises';
import type { V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { KubeClient } from '../core/kube/client.ts';
import { errorMessage } from '../core/errors.ts';

/** One Deployment at one moment, as the API says: its replicas, and its autoscaler's view when it has one. */
export interface DeploymentSample {
  readonly replicas: number;
  readonly desired?: number | undefined;
  readonly minReplicas?: number | undefined;
  /** CPU use as a share of the pods' request, the autoscaler's metric (metrics-server's data). */
  readonly cpuPercent?: number | undefined;
}

export interface TimelineSample {
  readonly atMs: number;
  readonly deployments: Readonly<Record<string, DeploymentSample>>;
}

/** Reads every Deployment of the namespace and the HorizontalPodAutoscalers that scale them. */
export async function sampleDeployments(kube: KubeClient, namespace: string, now = Date.now()): Promise<TimelineSample> {
  const [deployments, autoscalers] = await Promise.all([
    kube.list<V1Deployment>('apps/v1', 'Deployment', { namespace }),
    kube.list<V2HorizontalPodAutoscaler>('autoscaling/v2', 'HorizontalPodAutoscaler', { namespace }),
  ]);
  const byTarget = new Map<string, V2HorizontalPodAutoscaler>();
  for (const hpa of autoscalers.items) {
    if (hpa.spec.scaleTargetRef.kind === 'Deployment') byTarget.set(hpa.spec.scaleTargetRef.name, hpa);
  }
  const sample: Record<string, DeploymentSample> = {};
  for (const deployment of deployments.items) {
    const name = deployment.metadata?.name ?? '';
    const hpa = byTarget.get(name);
    const cpu = hpa?.status?.currentMetrics?.find((metric) => metric.type === 'Resource' && metric.resource?.name === 'cpu')?.resource?.current.averageUtilization;
    sample[name] = {
      replicas: deployment.status?.replicas ?? 0,
      // 0 until the autoscaler has computed once (it never wants fewer than its minimum, at least 1).
      desired: hpa?.status?.desiredReplicas === 0 ? undefined : hpa?.status?.desiredReplicas,
      minReplicas: hpa === undefined ? undefined : (hpa.spec.minReplicas ?? 1),
      cpuPercent: cpu,
    };
  }
  return { atMs: now, deployments: sample };
}

/** Autoscaled Deployments still above their minimum in a sample (name → replicas, minimum). */
export function aboveMinimum(sample: TimelineSample): { name: string; replicas: number; minReplicas: number }[] {
  return Object.entries(sample.deployments)
    .filter(([, d]) => d.minReplicas !== undefined && Math.max(d.replicas, d.desired ?? 0) > d.minReplicas)
    .map(([name, d]) => ({ name, replicas: d.replicas, minReplicas: d.minReplicas ?? 0 }));
}

export interface Timeline {
  readonly samples: readonly TimelineSample[];
  /** Samples that could not be read (the API busy or away); the run goes on without them. */
  readonly misses: number;
  /** Stops sampling (after the sample under way, if any). */
  stop(): Promise<void>;
}

export interface TimelineOptions {
  readonly intervalMs: number;
  readonly signal: AbortSignal;
  /** A sample that fails: said once, in words. */
  readonly onMiss?: (reason: string) => void;
  /** Each sample, as it is taken. */
  readonly onSample?: (sample: TimelineSample) => void;
}

/** Samples the namespace's Deployments every `intervalMs` until stopped. */
export function startTimeline(kube: KubeClient, namespace: string, options: TimelineOptions): Timeline {
  const samples: TimelineSample[] = [];
  let misses = 0;
  const stopping = new AbortController();
  const stopped = AbortSignal.any([stopping.signal, options.signal]);
  const loop = (async () => {
    while (!stopped.aborted) {
      try {
        const sample = await sampleDeployments(kube, namespace);
        samples.push(sample);
        options.onSample?.(sample);
      } catch (err) {
        if (misses++ === 0) options.onMiss?.(errorMessage(err));
      }
      await sleep(options.intervalMs, undefined, { signal: stopped }).catch(() => undefined);
    }
  })();
  return {
    samples,
    get misses() {
      return misses;
    },
    stop: async () => {
      stopping.abort();
      await loop;
    },
  };
}

/**
 * After the load: waits (sampling as the timeline does) until every autoscaled Deployment is back
 * at its minimum, at most `maxMs`. Returns those still above it when time ran out.
 */
export async function settle(timeline: Timeline, maxMs: number, signal: AbortSignal, onWaiting: (line: string) => void, everyMs = 30_000): Promise<{ name: string; replicas: number; minReplicas: number }[]> {
  const deadline = Date.now() + maxMs;
  let said = 0;
  for (;;) {
    const last = timeline.samples.at(-1);
    const above = last === undefined ? [] : aboveMinimum(last);
    if (last !== undefined && above.length === 0) return [];
    if (Date.now() >= deadline || signal.aborted) return above;
    if (Date.now() - said >= everyMs) {
      said = Date.now();
      const left = Math.round((deadline - Date.now()) / 1000);
      onWaiting(`waiting for the autoscalers to scale back down (${String(left)} s left): ${above.map((d) => `${d.name} at ${String(d.replicas)}, minimum ${String(d.minReplicas)}`).join('; ') || 'no sample yet'}`);
    }
    await sleep(1000, undefined, { signal }).catch(() => undefined);
  }
}

const clock = (ms: number): string => {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return `${String(Math.floor(seconds / 60))}:${String(seconds % 60).padStart(2, '0')}`;
};

/**
 * The timeline as a table: a row per sample, per Deployment its replicas and its CPU (% of
 * request, as its autoscaler sees it). `loadEndMs` marks where the load stopped.
 */
export function timelineTable(samples: readonly TimelineSample[], startMs: number, loadEndMs?: number): string[] {
  if (samples.length === 0) return ['timeline: no sample could be read'];
  const names = [...new Set(samples.flatMap((sample) => Object.keys(sample.deployments)))].sort();
  const cell = (d: DeploymentSample | undefined): string => {
    if (d === undefined) return '—';
    const scaling = d.desired !== undefined && d.desired !== d.replicas ? `→${String(d.desired)}` : '';
    return `${String(d.replicas)}${scaling} ${d.cpuPercent === undefined ? '  ?' : `${String(d.cpuPercent)}%`}`;
  };
  const rows = samples.map((sample) => [clock(sample.atMs - startMs), ...names.map((name) => cell(sample.deployments[name]))]);
  const header = ['t', ...names];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => `  ${cells.map((text, column) => text.padEnd(widths[column] ?? 0)).join('   ')}`.trimEnd();
  const lines = ['timeline (replicas, →desired, CPU as % of request as the autoscaler reads it)', line(header)];
  let marked = loadEndMs === undefined;
  samples.forEach((sample, index) => {
    if (!marked && loadEndMs !== undefined && sample.atMs >= loadEndMs) {
      lines.push(`  ${'·'.repeat(3)} load ended at ${clock(loadEndMs - startMs)}`);
      marked = true;
    }
    lines.push(line(rows[index] ?? []));
  });
  return lines;
}

/** The highest replica count each Deployment reached, and where it ended (for a one-line verdict). */
export function replicaRange(samples: readonly TimelineSample[]): Record<string, { min: number; max: number; last: number; minReplicas?: number | undefined }> {
  const range: Record<string, { min: number; max: number; last: number; minReplicas?: number | undefined }> = {};
  for (const sample of samples) {
    for (const [name, d] of Object.entries(sample.deployments)) {
      const seen = range[name];
      range[name] = seen === undefined
        ? { min: d.replicas, max: d.replicas, last: d.replicas, minReplicas: d.minReplicas }
        : { min: Math.min(seen.min, d.replicas), max: Math.max(seen.max, d.replicas), last: d.replicas, minReplicas: d.minReplicas ?? seen.minReplicas };
    }
  }
  return range;
}
