import type { V1Node } from '@kubernetes/client-node';
import { $, which } from 'zx';
import type { KubeClient } from '../core/kube/client.ts';
import type { Layer } from '../core/layer.ts';
import { layerStatus, type LayerStatus } from './layers.ts';
import { findUis } from './ui.ts';

/** A program on this machine that tracelab or a person running the lab uses. */
export interface Prerequisite {
  readonly name: string;
  /** null: not found on PATH. */
  readonly version: string | null;
  /** Whether tracelab cannot work without it. */
  readonly required: boolean;
  /** false: missing or too old while required, or too far from the cluster's version. */
  readonly ok: boolean;
  readonly note: string;
}

export interface NodeStatus {
  readonly name: string;
  readonly ready: boolean;
  /** The Ready condition's reason when not ready (`KubeletNotReady: …`). */
  readonly reason: string | undefined;
  readonly roles: readonly string[];
  readonly kubeletVersion: string;
}

export interface UiStatus {
  readonly title: string;
  /** `jaeger/jaeger-query:16686` */
  readonly service: string;
  readonly installed: boolean;
  /** Where `npm run ui` serves it (its default local port); null when it is not installed. */
  readonly url: string | null;
  /** How to open it, why it would not answer now, or what installs it. */
  readonly note: string;
}

export interface LabStatus {
  readonly prerequisites: readonly Prerequisite[];
  readonly context: string;
  readonly server: string;
  readonly serverVersion: string;
  readonly nodes: readonly NodeStatus[];
  readonly layers: readonly LayerStatus[];
  readonly uis: readonly UiStatus[];
}

/** What tracelab itself needs (@kubernetes/client-node 2 needs Node 22.19). */
export const minimumNode = [22, 19] as const;

function atLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.replace(/^v/, '').split('.').map(Number);
  for (const [index, wanted] of minimum.entries()) {
    const have = parts[index] ?? 0;
    if (have !== wanted) return have > wanted;
  }
  return true;
}

function minorOf(version: string | undefined): number | undefined {
  const match = /^v?1\.(\d+)/.exec(version ?? '');
  return match === null ? undefined : Number(match[1]);
}

async function toolVersion(command: string, args: readonly string[], pick: (output: string) => string | undefined): Promise<string | undefined> {
  if ((await which(command, { nothrow: true })) === null) return undefined;
  const result = await $({ nothrow: true, quiet: true, timeout: '10s' })`${command} ${args}`;
  return pick(`${result.stdout}\n${result.stderr}`) ?? 'unknown version';
}

/**
 * Node (required), kubectl (optional; tracelab talks to the API itself, kubectl is handy next to
 * it and should be within one minor of the server), and on a lab node the node's own programs.
 */
export async function readPrerequisites(nodeVersion: string, serverVersion: string | undefined): Promise<Prerequisite[]> {
  const node: Prerequisite = {
    name: 'node',
    version: nodeVersion,
    required: true,
    ok: atLeast(nodeVersion, minimumNode),
    note: atLeast(nodeVersion, minimumNode) ? 'runs tracelab' : `tracelab needs Node ${minimumNode.join('.')} or newer — install Node 24 LTS`,
  };
  const [kubectl, kubeadm, kubelet, containerd] = await Promise.all([
    toolVersion('kubectl', ['version', '--client', '-o', 'json'], (out) => /"gitVersion":\s*"([^"]+)"/.exec(out)?.[1]),
    toolVersion('kubeadm', ['version', '-o', 'short'], (out) => /v\d+\.\d+\.\d+\S*/.exec(out)?.[0]),
    toolVersion('kubelet', ['--version'], (out) => /v\d+\.\d+\.\d+\S*/.exec(out)?.[0]),
    toolVersion('containerd', ['--version'], (out) => /\sv?(\d+\.\d+\.\d+\S*)/.exec(out)?.[1]),
  ]);
  const skew = minorOf(kubectl) !== undefined && minorOf(serverVersion) !== undefined ? Math.abs((minorOf(kubectl) ?? 0) - (minorOf(serverVersion) ?? 0)) : 0;
  const onNode = (name: string, version: string | undefined): Prerequisite => ({
    name,
    version: version ?? null,
    required: false,
    ok: true,
    note: version === undefined ? 'not on this host (only a lab node needs it)' : 'this host is (or can be) a lab node',
  });
  return [
    node,
    {
      name: 'kubectl',
      version: kubectl ?? null,
      required: false,
      ok: skew <= 1,
      note:
        kubectl === undefined
          ? 'not found (optional: tracelab talks to the API itself)'
          : skew > 1
            ? `${skew} minors from the server's ${serverVersion ?? ''}: kubectl supports one — install a matching kubectl`
            : 'optional, for looking around',
    },
    onNode('kubeadm', kubeadm),
    onNode('kubelet', kubelet),
    onNode('containerd', containerd),
  ];
}

export function nodeStatus(node: V1Node): NodeStatus {
  const ready = node.status?.conditions?.find((condition) => condition.type === 'Ready');
  const roles = Object.keys(node.metadata?.labels ?? {})
    .filter((label) => label.startsWith('node-role.kubernetes.io/'))
    .map((label) => label.slice('node-role.kubernetes.io/'.length))
    .filter((role) => role !== '')
    .sort();
  return {
    name: node.metadata?.name ?? '',
    ready: ready?.status === 'True',
    reason: ready?.status === 'True' ? undefined : `${ready?.reason ?? 'no Ready condition yet'}${ready?.message ? `: ${ready.message}` : ''}`,
    roles,
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? '',
  };
}

/** The server's version first: it is the request that says whether the cluster answers at all. */
export async function gatherStatus(kube: KubeClient, layers: readonly Layer<unknown>[], nodeVersion: string = process.versions.node): Promise<LabStatus> {
  const version = await kube.request<{ gitVersion?: string }>('GET', '/version');
  const [prerequisites, nodes, layerStates, found] = await Promise.all([
    readPrerequisites(nodeVersion, version.gitVersion),
    kube.list<V1Node>('v1', 'Node'),
    Promise.all(layers.map((layer) => layerStatus(kube, layer.name))),
    findUis(kube),
  ]);
  const uis: UiStatus[] = found.map(({ spec, installed, problem }) => ({
    title: spec.title,
    service: `${spec.namespace}/${spec.service}:${spec.servicePort}`,
    installed,
    url: installed ? `http://localhost:${spec.localPort}` : null,
    note: !installed ? `not installed: ${spec.install}` : problem === undefined ? 'npm run ui forwards it there' : `would not answer now: ${problem}`,
  }));
  return {
    prerequisites,
    context: kube.contextName,
    server: kube.server,
    serverVersion: version.gitVersion ?? 'unknown',
    nodes: nodes.items.map(nodeStatus).sort((a, b) => a.name.localeCompare(b.name)),
    layers: layerStates,
    uis,
  };
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

const mark = (ok: boolean): string => (ok ? '✓' : '✗');

/** The text `tracelab status` prints. */
export function formatStatus(status: LabStatus): string[] {
  const lines: string[] = ['prerequisites'];
  lines.push(...table(status.prerequisites.map((p) => [` ${p.ok ? '✓' : p.required ? '✗' : '!'}`, p.name, p.version ?? '-', p.note])));
  lines.push('', `cluster  context ${status.context}, ${status.server}, Kubernetes ${status.serverVersion}`);
  lines.push('', `nodes (${status.nodes.filter((n) => n.ready).length} of ${status.nodes.length} Ready)`);
  lines.push(
    ...table(status.nodes.map((n) => [` ${mark(n.ready)}`, n.name, n.ready ? 'Ready' : 'NotReady', n.roles.join(',') || '<none>', n.kubeletVersion])),
  );
  for (const n of status.nodes) if (n.reason !== undefined) lines.push(`   ${n.name}: ${n.reason}`);
  lines.push('', 'layers');
  lines.push(
    ...table(
      status.layers.map((l) => [
        ` ${l.state === 'installed' ? '✓' : l.state === 'missing' ? '-' : '✗'}`,
        l.name,
        l.state,
        l.state === 'missing' ? `tracelab up ${l.name}` : `${l.objects} objects`,
      ]),
    ),
  );
  for (const l of status.layers) for (const reason of l.reasons) lines.push(`   ${l.name}: ${reason}`);
  lines.push('', 'UIs (npm run ui)');
  lines.push(...table(status.uis.map((ui) => [` ${ui.installed ? '✓' : '-'}`, ui.title, ui.url ?? '-', ui.note])));
  return lines;
}

/** Whether the lab is whole: every node Ready, no layer degraded, the required programs there. */
export function statusHealthy(status: LabStatus): boolean {
  return status.nodes.every((n) => n.ready) && status.layers.every((l) => l.state !== 'degraded') && status.prerequisites.every((p) => !p.required || p.ok);
}
