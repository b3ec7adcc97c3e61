import type { KubernetesObject, V1PodSpec } from '@kubernetes/client-node';

/** CPU in millicores and memory in bytes, as requests and limits. */
export interface Totals {
  readonly cpuRequest: number;
  readonly cpuLimit: number;
  readonly memoryRequest: number;
  readonly memoryLimit: number;
}

export const zeroTotals: Totals = { cpuRequest: 0, cpuLimit: 0, memoryRequest: 0, memoryLimit: 0 };

export interface LayerFootprint {
  readonly layer: string;
  readonly pods: number;
  readonly totals: Totals;
  /** Containers without requests or limits: their share is unknown, the sum is a lower bound. */
  readonly unbounded: readonly string[];
}

/** The lab must fit one 4 vCPU / 8 GiB host: at most 3 vCPU and 6 GiB requested. */
export const labBudget = { cpuRequest: 3000, memoryRequest: 6 * 2 ** 30 } as const;

/** Millicores of a Kubernetes CPU quantity (`250m`, `1`, `0.5`). */
export function parseCpu(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity.trim());
  if (!match) throw new Error(`'${quantity}' is not a CPU quantity such as 250m or 1`);
  const value = Number(match[1]);
  return match[2] === 'm' ? value : value * 1000;
}

const memorySuffixes: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Bytes of a Kubernetes memory quantity (`128Mi`, `1Gi`, `500M`, `1e9`). */
export function parseMemory(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?(?:e\d+)?)(|k|M|G|T|Ki|Mi|Gi|Ti)$/.exec(quantity.trim());
  if (!match) throw new Error(`'${quantity}' is not a memory quantity such as 128Mi or 1Gi`);
  return Number(match[1]) * (memorySuffixes[match[2] ?? ''] ?? 1);
}

export function addTotals(a: Totals, b: Totals): Totals {
  return {
    cpuRequest: a.cpuRequest + b.cpuRequest,
    cpuLimit: a.cpuLimit + b.cpuLimit,
    memoryRequest: a.memoryRequest + b.memoryRequest,
    memoryLimit: a.memoryLimit + b.memoryLimit,
  };
}

export function scaleTotals(a: Totals, factor: number): Totals {
  return { cpuRequest: a.cpuRequest * factor, cpuLimit: a.cpuLimit * factor, memoryRequest: a.memoryRequest * factor, memoryLimit: a.memoryLimit * factor };
}

function maxTotals(a: Totals, b: Totals): Totals {
  return {
    cpuRequest: Math.max(a.cpuRequest, b.cpuRequest),
    cpuLimit: Math.max(a.cpuLimit, b.cpuLimit),
    memoryRequest: Math.max(a.memoryRequest, b.memoryRequest),
    memoryLimit: Math.max(a.memoryLimit, b.memoryLimit),
  };
}

/** A container's requests and limits; a request left out defaults to the limit, as Kubernetes does. */
export function containerTotals(resources: Readonly<{ requests?: Readonly<Record<string, string>>; limits?: Readonly<Record<string, string>> }> | undefined): Totals {
  const requests = resources?.requests ?? {};
  const limits = resources?.limits ?? {};
  const cpu = (value: string | undefined): number => (value === undefined ? 0 : parseCpu(value));
  const memory = (value: string | undefined): number => (value === undefined ? 0 : parseMemory(value));
  return {
    cpuRequest: cpu(requests.cpu ?? limits.cpu),
    cpuLimit: cpu(limits.cpu),
    memoryRequest: memory(requests.memory ?? limits.memory),
    memoryLimit: memory(limits.memory),
  };
}

/** What the scheduler reserves for one pod: the larger of its app containers' sum and any init container. */
export function podTotals(spec: V1PodSpec): Totals {
  const app = spec.containers.reduce((sum, container) => addTotals(sum, containerTotals(container.resources)), zeroTotals);
  return (spec.initContainers ?? []).reduce((max, container) => maxTotals(max, containerTotals(container.resources)), app);
}

interface Workload {
  readonly name: string;
  readonly pods: number;
  readonly spec: V1PodSpec;
}

/** Pods of each workload at its rendered replica count; a DaemonSet runs once per node. */
export function workloadsOf(objects: readonly KubernetesObject[], nodes: number): Workload[] {
  const workloads: Workload[] = [];
  for (const object of objects) {
    const name = `${object.kind ?? ''} ${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
    const spec = (object as { spec?: { replicas?: number; parallelism?: number; template?: { spec?: V1PodSpec } } }).spec;
    switch (object.kind) {
      case 'Deployment':
      case 'StatefulSet':
      case 'ReplicaSet':
        if (spec?.template?.spec) workloads.push({ name, pods: spec.replicas ?? 1, spec: spec.template.spec });
        break;
      case 'DaemonSet':
        if (spec?.template?.spec) workloads.push({ name, pods: nodes, spec: spec.template.spec });
        break;
      case 'Job':
        if (spec?.template?.spec) workloads.push({ name, pods: spec.parallelism ?? 1, spec: spec.template.spec });
        break;
      case 'Pod':
        workloads.push({ name, pods: 1, spec: (object as { spec: V1PodSpec }).spec });
        break;
      default:
        break;
    }
  }
  return workloads;
}

/**
 * Copies of the objects with every HorizontalPodAutoscaler's target at its maxReplicas: the most
 * the layer can grow to under load.
 */
export function atAutoscalerMax(objects: readonly KubernetesObject[]): KubernetesObject[] {
  const ceilings = new Map<string, number>();
  for (const object of objects) {
    if (object.kind !== 'HorizontalPodAutoscaler') continue;
    const spec = (object as { spec?: { maxReplicas?: number; scaleTargetRef?: { kind?: string; name?: string } } }).spec;
    if (spec?.maxReplicas === undefined || spec.scaleTargetRef?.name === undefined) continue;
    ceilings.set(`${spec.scaleTargetRef.kind ?? ''}/${object.metadata?.namespace ?? ''}/${spec.scaleTargetRef.name}`, spec.maxReplicas);
  }
  return objects.map((object) => {
    const ceiling = ceilings.get(`${object.kind ?? ''}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`);
    if (ceiling === undefined) return object;
    const copy = structuredClone(object) as KubernetesObject & { spec: { replicas?: number } };
    copy.spec.replicas = ceiling;
    return copy;
  });
}

export function layerFootprint(layer: string, objects: readonly KubernetesObject[], options: { nodes: number }): LayerFootprint {
  let totals = zeroTotals;
  let pods = 0;
  const unbounded: string[] = [];
  for (const workload of workloadsOf(objects, options.nodes)) {
    pods += workload.pods;
    totals = addTotals(totals, scaleTotals(podTotals(workload.spec), workload.pods));
    for (const container of workload.spec.containers) {
      const resources = container.resources;
      if (resources?.requests === undefined || resources.limits === undefined) unbounded.push(`${workload.name} container ${container.name}`);
    }
  }
  return { layer, pods, totals, unbounded };
}

export function formatCpu(millicores: number): string {
  return millicores % 1000 === 0 ? `${millicores / 1000}` : `${Math.round(millicores)}m`;
}

export function formatMemory(bytes: number): string {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${gib.toFixed(2)}Gi` : `${Math.round(bytes / 2 ** 20)}Mi`;
}

export function sumFootprints(layers: readonly LayerFootprint[]): Totals {
  return layers.reduce((sum, layer) => addTotals(sum, layer.totals), zeroTotals);
}

export function fitsBudget(totals: Totals): boolean {
  return totals.cpuRequest <= labBudget.cpuRequest && totals.memoryRequest <= labBudget.memoryRequest;
}

/** The table `tracelab footprint` prints: one row per layer, the total, and the budget check. */
export function formatFootprint(layers: readonly LayerFootprint[]): string[] {
  const total = sumFootprints(layers);
  const pods = layers.reduce((sum, layer) => sum + layer.pods, 0);
  const header = ['layer', 'pods', 'cpu req', 'cpu lim', 'mem req', 'mem lim'];
  const row = (name: string, podCount: number, totals: Totals): string[] => [
    name,
    String(podCount),
    formatCpu(totals.cpuRequest),
    formatCpu(totals.cpuLimit),
    formatMemory(totals.memoryRequest),
    formatMemory(totals.memoryLimit),
  ];
  const rows = [header, ...layers.map((layer) => row(layer.layer, layer.pods, layer.totals)), row('total', pods, total)];
  const widths = header.map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  const lines = rows.map(line);
  lines.splice(rows.length - 1, 0, '-'.repeat(lines[0]?.length ?? 0));
  const fits = fitsBudget(total);
  const budget = `requests ${formatCpu(total.cpuRequest)} CPU / ${formatMemory(total.memoryRequest)} against the lab budget of ${formatCpu(labBudget.cpuRequest)} CPU / ${formatMemory(labBudget.memoryRequest)}`;
  lines.push(fits ? `✓ ${budget}: fits one 4 vCPU / 8 GiB host` : `✗ ${budget}: over budget, lower requests or replicas`);
  for (const layer of layers) for (const container of layer.unbounded) lines.push(`! ${layer.layer}: ${container} has no requests or limits; the sum is a lower bound`);
  return lines;
}
