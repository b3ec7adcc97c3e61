/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { atAutoscalerMax, formatFootprint, labBudget, layerFootprint, parseCpu, parseMemory, podTotals, type Totals } from '../../core/footprint.ts';
import { layers } from '../../cli/layers.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { labFootprint, sidecarsFootprint } from '../../monitoring/footprint.ts';
import { istiodResources } from '../../mesh/resources.ts';
import { cacheDir, requireComponent } from '../../testenv/components.ts';

const pod = (containers: { cpu: string; memory: string; cpuLimit: string; memoryLimit: string }[]) => ({
  containers: containers.map((c, index) => ({
    name: `c${index}`,
    resources: { requests: { cpu: c.cpu, memory: c.memory }, limits: { cpu: c.cpuLimit, memory: c.memoryLimit } },
  })),
});

describe('parseCpu() / parseMemory()', () => {
  const cpu: [string, number][] = [['250m', 250], ['1', 1000], ['0.5', 500], ['2', 2000]];
  for (const [text, millis] of cpu) it(`reads CPU ${text}`, () => { assert.equal(parseCpu(text), millis); });
  const memory: [string, number][] = [['128Mi', 128 * 2 ** 20], ['1Gi', 2 ** 30], ['500M', 500e6], ['1e9', 1e9], ['64Ki', 65536]];
  for (const [text, bytes] of memory) it(`reads memory ${text}`, () => { assert.equal(parseMemory(text), bytes); });
  it('rejects what is not a quantity', () => {
    assert.throws(() => parseCpu('lots'), /'lots' is not a CPU quantity/);
    assert.throws(() => parseMemory('1GB'), /'1GB' is not a memory quantity/);
  });
});

describe('layerFootprint()', () => {
  const deployment = (replicas: number): KubernetesObject =>
    ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'x' }, spec: { replicas, template: { spec: pod([{ cpu: '100m', memory: '128Mi', cpuLimit: '1', memoryLimit: '256Mi' }]) } } }) as KubernetesObject;
  const daemonSet = { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'x' }, spec: { template: { spec: pod([{ cpu: '50m', memory: '32Mi', cpuLimit: '200m', memoryLimit: '64Mi' }]) } } } as KubernetesObject;
  const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'x' } } as KubernetesObject;

  it('multiplies by replicas and counts a DaemonSet once per node', () => {
    const footprint = layerFootprint('x', [deployment(3), daemonSet, configMap], { nodes: 2 });
    assert.equal(footprint.pods, 5);
    assert.deepEqual(footprint.totals, { cpuRequest: 400, cpuLimit: 3400, memoryRequest: (3 * 128 + 2 * 32) * 2 ** 20, memoryLimit: (3 * 256 + 2 * 64) * 2 ** 20 });
    assert.deepEqual(footprint.unbounded, []);
  });

  it('names containers without requests or limits', () => {
    const bare = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: 'x' }, spec: { containers: [{ name: 'app' }] } } as KubernetesObject;
    assert.deepEqual(layerFootprint('x', [bare], { nodes: 1 }).unbounded, ['Pod x/bare container app']);
  });

  it('takes the larger of the app containers and an init container, as the scheduler does', () => {
    const spec = { ...pod([{ cpu: '100m', memory: '64Mi', cpuLimit: '200m', memoryLimit: '128Mi' }]), initContainers: [{ name: 'init', resources: { requests: { cpu: '500m', memory: '32Mi' }, limits: { cpu: '500m', memory: '32Mi' } } }] };
    assert.deepEqual(podTotals(spec), { cpuRequest: 500, cpuLimit: 500, memoryRequest: 64 * 2 ** 20, memoryLimit: 128 * 2 ** 20 });
  });
});

describe('atAutoscalerMax()', () => {
  it("sets each HPA target's replicas to maxReplicas, leaving the render untouched", () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'x' }, spec: { replicas: 2 } } as KubernetesObject;
    const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: 'x' }, spec: { maxReplicas: 5, scaleTargetRef: { kind: 'Deployment', name: 'web' } } } as KubernetesObject;
    const [scaled] = atAutoscalerMax([deployment, hpa]);
    assert.equal((scaled as { spec: { replicas: number } }).spec.replicas, 5);
    assert.equal((deployment as { spec: { replicas: number } }).spec.replicas, 2);
  });
});

describe('labFootprint()', () => {
  const context = (): { componentCache: string; searchPath: string; output: ReturnType<typeof createRecordingOutput> } => ({ componentCache: cacheDir(), searchPath: '', output: createRecordingOutput() });

  it('counts every registered layer from its render (the mesh as istioctl generates it) and one sidecar per meshed (demo) pod', async (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const footprints = await labFootprint(layers, { nodes: 1 }, context());
    assert.deepEqual(footprints.map((f) => f.layer), [...layers.map((layer) => layer.name), 'mesh sidecars (4)']);
    const demoPods = footprints.find((f) => f.layer === 'demo')?.pods ?? 0;
    assert.deepEqual(footprints.at(-1), sidecarsFootprint(demoPods));
    // istiod, the gateway and one CNI agent per node, from the rendered manifests
    assert.equal(footprints.find((f) => f.layer === 'mesh')?.pods, 3);
    assert.equal((await labFootprint(layers, { nodes: 3 }, context())).find((f) => f.layer === 'mesh')?.pods, 5);
    for (const footprint of footprints) assert.deepEqual(footprint.unbounded, [], `${footprint.layer} bounds every container`);
  });

  it('counts istiod from the sizes it asks for, and says so, when istioctl cannot be found', async () => {
    const footprints = await labFootprint(layers, { nodes: 1 }, { componentCache: '/nonexistent', searchPath: '', output: createRecordingOutput() });
    const mesh = footprints.find((f) => f.layer.startsWith('mesh ('));
    assert.match(mesh?.layer ?? '', /^mesh \(istiod only, estimated: istioctl 1\.31\.0 not found\)$/);
    assert.equal(mesh?.totals.cpuRequest, parseCpu(istiodResources.requests.cpu));
  });

  it('keeps the whole lab within 3 vCPU and 6 GiB of requests on three nodes', async (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const total = (await labFootprint(layers, { nodes: 3 }, context())).reduce((sum, f) => ({ cpu: sum.cpu + f.totals.cpuRequest, memory: sum.memory + f.totals.memoryRequest }), { cpu: 0, memory: 0 });
    assert.ok(total.cpu <= labBudget.cpuRequest, `CPU requests ${total.cpu}m`);
    assert.ok(total.memory <= labBudget.memoryRequest, `memory requests ${total.memory} B`);
  });
});

describe('formatFootprint()', () => {
  it('prints a row per layer, the total and a ✗ line when over budget', () => {
    const big = { layer: 'big', pods: 1, totals: { cpuRequest: 4000, cpuLimit: 4000, memoryRequest: 2 ** 30, memoryLimit: 2 ** 30 }, unbounded: [] };
    const lines = formatFootprint([big]);
    assert.match(lines[0] ?? '', /^layer\s+pods\s+cpu req\s+cpu lim\s+mem req\s+mem lim$/);
    assert.match(lines.find((line) => line.startsWith('total')) ?? '', /total\s+1\s+4\s+4\s+1\.00Gi\s+1\.00Gi/);
    assert.match(lines.at(-1) ?? '', /^✗ requests 4 CPU \/ 1\.00Gi against the lab budget of 3 CPU \/ 6\.00Gi: over budget/);
  });
});

describe('tracelab footprint', () => {
  const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
  it('prints the table with the budget check and exits 0', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const result = spawnSync(process.execPath, [cli, 'footprint', '--nodes', '3'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^monitoring\s+\d+/m);
    assert.match(result.stdout, /^mesh\s+5\s/m);
    assert.match(result.stdout, /^mesh sidecars \(4\)\s+0\s/m);
    assert.match(result.stdout, /^✓ requests .* fits one 4 vCPU \/ 8 GiB host$/m);
    assert.match(result.stdout, /^✓ at the autoscalers' maximum \(\d+ pods\): requests /m);
  });
  it('--json: the same sums for machines, the total the sum of the layers', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const result = spawnSync(process.execPath, [cli, 'footprint', '--nodes', '3', '--json'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout) as { nodes: number; layers: { layer: string; pods: number; totals: Totals }[]; total: Totals; fits: boolean; atAutoscalerMax: { pods: number; total: Totals; fits: boolean } };
    assert.equal(json.nodes, 3);
    assert.ok(json.layers.some((l) => l.layer === 'monitoring') && json.layers.some((l) => l.layer === 'mesh') && json.layers.some((l) => l.layer.startsWith('mesh sidecars')));
    assert.equal(json.total.cpuRequest, json.layers.reduce((sum, l) => sum + l.totals.cpuRequest, 0));
    assert.equal(json.total.memoryRequest, json.layers.reduce((sum, l) => sum + l.totals.memoryRequest, 0));
    assert.equal(json.fits, true);
    assert.ok(json.atAutoscalerMax.pods > json.layers.reduce((sum, l) => sum + l.pods, 0));
  });
  it('rejects a bad node count in one line', () => {
    const result = spawnSync(process.execPath, [cli, 'footprint', '--nodes', '0'], { encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, /--nodes '0' is not a node count from 1 to 100/);
  });
});
