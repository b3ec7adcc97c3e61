// The timeline against a real API server (the local control plane: its Deployment and HPA
// controllers; kwok nodes, so no CPU readings): what it reads per Deployment, and the settle
// phase waiting for an autoscaled Deployment to come back to its minimum.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import { parseDemoOptions } from '../../demo/options.ts';
import { renderDeployment, renderHorizontalPodAutoscaler, renderNamespace, renderServiceAccount } from '../../demo/render.ts';
import { sampleDeployments, settle, startTimeline, timelineTable } from '../../loadtest/timeline.ts';
import { localCluster } from '../core/kube/local-cluster.ts';

const cluster = localCluster(1);
const namespace = 'timeline-demo';
const demo = parseDemoOptions({ namespace, images: 'frontend=r.invalid/f:1,backend=r.invalid/b:1' });

async function create(kube: KubeClient, object: KubernetesObject): Promise<void> {
  await kube.request('POST', await kube.path({ apiVersion: object.apiVersion ?? '', kind: object.kind ?? '', namespace: object.metadata?.namespace }), { body: object });
}

async function scale(kube: KubeClient, name: string, replicas: number): Promise<void> {
  await kube.request('PATCH', `${await kube.path({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace })}/scale`, {
    body: { spec: { replicas } },
    contentType: 'application/merge-patch+json',
  });
}

async function untilReplicas(kube: KubeClient, name: string, replicas: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const live = await kube.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });
    if (live?.status?.replicas === replicas) return;
    assert.ok(Date.now() < deadline, `${name} at ${String(replicas)} replicas within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the timeline on the local control plane', () => {
  it('reads replicas per Deployment and its autoscaler (minimum; no CPU reading without metrics); settle waits for the minimum and says who is above it', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    await create(c.kube, renderNamespace(demo));
    for (const service of ['frontend', 'backend'] as const) {
      await create(c.kube, renderServiceAccount(service, demo));
      await create(c.kube, renderDeployment(service, demo));
    }
    await create(c.kube, renderHorizontalPodAutoscaler('backend', demo));
    await untilReplicas(c.kube, 'backend', 2);
    await untilReplicas(c.kube, 'frontend', 2);

    const sample = await sampleDeployments(c.kube, namespace, 42);
    assert.equal(sample.atMs, 42);
    assert.deepEqual(Object.keys(sample.deployments).sort(), ['backend', 'frontend']);
    assert.equal(sample.deployments.backend?.replicas, 2);
    assert.equal(sample.deployments.backend.minReplicas, 2);
    assert.equal(sample.deployments.backend.cpuPercent, undefined, 'no metrics-server here');
    assert.deepEqual(sample.deployments.frontend, { replicas: 2, desired: undefined, minReplicas: undefined, cpuPercent: undefined }, 'no autoscaler for frontend in this test');

    // Above the minimum (as after a scale-up): settle waits, and names it when time runs out.
    await scale(c.kube, 'backend', 3);
    await untilReplicas(c.kube, 'backend', 3);
    const interrupt = new AbortController();
    const timeline = startTimeline(c.kube, namespace, { intervalMs: 200, signal: interrupt.signal });
    const waiting: string[] = [];
    const above = await settle(timeline, 1500, interrupt.signal, (line) => waiting.push(line), 100);
    assert.deepEqual(above, [{ name: 'backend', replicas: 3, minReplicas: 2 }]);
    assert.match(waiting.at(-1) ?? '', /^waiting for the autoscalers to scale back down \(\d+ s left\): backend at 3, minimum 2$/);

    // Back at the minimum: settle returns as soon as a sample shows it.
    await scale(c.kube, 'backend', 2);
    assert.deepEqual(await settle(timeline, 30_000, interrupt.signal, () => undefined), []);
    await timeline.stop();
    assert.equal(timeline.misses, 0);
    const rows = timelineTable(timeline.samples, timeline.samples[0]?.atMs ?? 0).slice(2);
    assert.ok(rows.some((row) => /^ {2}\d:\d\d +3 +\? +2 +\?$/.test(row)), rows.join('\n'));
    assert.match(rows.at(-1) ?? '', /^ {2}\d:\d\d +2 +\? +2 +\?$/);
  });
});
