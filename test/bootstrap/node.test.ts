/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// drain and uncordon: the pure plan as data, then the CLI against the local control plane
// (kube-controller-manager with its disruption controller, kwok nodes that run the pods).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1LabelSelector, V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { describeEviction, describeLeftAlone, planDrain, selectorMatches, type PodDisposition } from '../../bootstrap/node.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { localCluster, tracelab } from '../core/kube/local-cluster.ts';

function pod(name: string, extra: { owner?: string; annotations?: Record<string, string>; terminating?: boolean; phase?: string; emptyDir?: string } = {}): V1Pod {
  const [kind, ownerName] = (extra.owner ?? '').split('/');
  return {
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      annotations: extra.annotations,
      ...(extra.terminating === true ? { deletionTimestamp: new Date() } : {}),
      ownerReferences: extra.owner === undefined ? [] : [{ apiVersion: 'apps/v1', kind: kind ?? '', name: ownerName ?? '', uid: 'u', controller: true }],
    },
    spec: { containers: [{ name: 'server' }], volumes: extra.emptyDir === undefined ? [] : [{ name: extra.emptyDir, emptyDir: {} }] },
    status: { phase: extra.phase ?? 'Running' },
  };
}

describe('planDrain()', () => {
  const node: V1Node = { metadata: { name: 'n1' }, spec: {} };
  const cases: [string, V1Pod, boolean, PodDisposition][] = [
    ['a ReplicaSet pod is evicted', pod('web', { owner: 'ReplicaSet/web-1' }), false, 'evict'],
    ['a DaemonSet pod stays', pod('agent', { owner: 'DaemonSet/agent' }), false, 'daemonset'],
    ['a static pod’s mirror stays', pod('etcd-n1', { annotations: { 'kubernetes.io/config.mirror': 'abc' }, owner: 'Node/n1' }), false, 'mirror'],
    ['a terminating pod is only waited for', pod('going', { owner: 'ReplicaSet/web-1', terminating: true }), false, 'terminating'],
    ['a bare pod is refused', pod('lonely'), false, 'refused'],
    ['a bare pod is evicted with --force', pod('lonely'), true, 'evict-unmanaged'],
    ['a finished bare pod is evicted', pod('done', { phase: 'Succeeded' }), false, 'evict'],
  ];
  for (const [what, input, force, disposition] of cases) {
    it(what, () => {
      assert.equal(planDrain(node, [input], { force }).pods[0]?.disposition, disposition);
    });
  }

  it('names the controller and the emptyDir data an eviction deletes', () => {
    const plan = planDrain({ metadata: { name: 'n1' }, spec: { unschedulable: true } }, [pod('web', { owner: 'ReplicaSet/web-1', emptyDir: 'cache' }), pod('agent', { owner: 'DaemonSet/agent' })], { force: false });
    assert.equal(plan.alreadyCordoned, true);
    const [agent, web] = plan.pods;
    assert.ok(agent !== undefined && web !== undefined);
    assert.equal(describeEviction(web), 'pod ns/web (ReplicaSet web-1); its emptyDir data is deleted (cache)');
    assert.equal(describeLeftAlone(agent), 'leaving pod ns/agent alone: DaemonSet agent runs one on every node');
    assert.equal(describeLeftAlone(web), undefined);
  });
});

describe('selectorMatches()', () => {
  const labels = { app: 'web', tier: 'front' };
  const cases: [string, V1LabelSelector | undefined, boolean][] = [
    ['no selector selects nothing', undefined, false],
    ['an empty selector selects everything', {}, true],
    ['matchLabels', { matchLabels: { app: 'web' } }, true],
    ['matchLabels that differ', { matchLabels: { app: 'api' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, true],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, false],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
  ];
  for (const [what, selector, expected] of cases) {
    it(what, () => {
      assert.equal(selectorMatches(selector, labels), expected);
    });
  }
});

const cluster = localCluster(3);

/** A Deployment of kwok pods; `extra` goes into its pod spec. */
function deployment(namespace: string, name: string, replicas: number, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'server', image: 'registry.invalid/server:1' }], ...extra } },
    },
  };
}

async function apply(env: { cp: { kubectl: (args: readonly string[], options?: { input?: string }) => Promise<string> } }, namespace: string, objects: object[]): Promise<void> {
  const items = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, ...objects];
  await env.cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
}

/** Deletes a test's workloads and waits until their pods are gone (the namespace controller is slower), so the next test's drains see only their own pods. */
async function cleanUp(env: { cp: { kubectl: (args: readonly string[]) => Promise<string> } }, namespace: string): Promise<void> {
  await env.cp.kubectl(['delete', 'deployments,daemonsets,poddisruptionbudgets,pods', '--all', '-n', namespace, '--cascade=foreground', '--wait=true']);
  await env.cp.kubectl(['wait', '--for=delete', 'pods', '--all', '-n', namespace, '--timeout=60s']);
  await env.cp.kubectl(['delete', 'namespace', namespace, '--wait=false']);
}

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const running = (p: V1Pod): boolean => p.status?.phase === 'Running' && p.metadata?.deletionTimestamp === undefined;

/** The Running pods of a namespace once there are `count` of them (optionally with one label). */
function runningPods(kube: KubeClient, namespace: string, count: number, labelSelector?: string): Promise<V1Pod[]> {
  return until(`${count} Running pods in ${namespace}`, async () => {
    const pods = (await kube.list<V1Pod>('v1', 'Pod', { namespace, ...(labelSelector === undefined ? {} : { labelSelector }) })).items.filter(running);
    return pods.length === count ? pods : undefined;
  });
}

/** What a drain may change on a node: its schedulability and, by uid, the pods it holds. */
async function nodeState(kube: KubeClient, node: string): Promise<string> {
  const live = await kube.get<V1Node>({ apiVersion: 'v1', kind: 'Node', name: node });
  const pods = (await kube.list<V1Pod>('v1', 'Pod', { fieldSelector: `spec.nodeName=${node}` })).items;
  const podState = pods.map((p) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''} ${p.metadata?.uid ?? ''} ${p.metadata?.deletionTimestamp === undefined ? 'live' : 'terminating'}`).sort();
  return JSON.stringify({ unschedulable: live?.spec?.unschedulable === true, pods: podState });
}

async function unschedulable(kube: KubeClient, node: string): Promise<boolean> {
  return (await kube.get<V1Node>({ apiVersion: 'v1', kind: 'Node', name: node }))?.spec?.unschedulable === true;
}

describe('tracelab node drain / uncordon', () => {
  it('drains a node: cordons it, moves a Deployment’s pods to the other nodes, leaves the DaemonSet’s pod', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const ns = 'tracelab-drain';
    await apply(env, ns, [
      deployment(ns, 'web', 4, { volumes: [{ name: 'cache', emptyDir: {} }] }),
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: ns },
        spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'server', image: 'registry.invalid/agent:1' }] } } },
      },
    ]);
    const web = await runningPods(env.kube, ns, 4, 'app=web');
    await runningPods(env.kube, ns, 3, 'app=agent');
    const node = web[0]?.spec?.nodeName ?? '';
    const onNode = web.filter((p) => p.spec?.nodeName === node).map((p) => p.metadata?.name ?? '');

    const run = await tracelab(env.cp, ['node', 'drain', node, '--timeout', '60s']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`cordoned node ${node}: no new pods are scheduled to it`));
    for (const name of onNode) assert.match(run.stderr, new RegExp(`evicted pod ${ns}/${name} \\(ReplicaSet web-\\w+\\); its emptyDir data is deleted \\(cache\\)`));
    assert.match(run.stderr, new RegExp(`leaving pod ${ns}/agent-\\w+ alone: DaemonSet agent runs one on every node`));
    assert.match(run.stderr, new RegExp(`drained node ${node}: evicted ${onNode.length} pods, left \\d+ alone`));

    assert.equal(await unschedulable(env.kube, node), true, 'the node is cordoned');
    const onNodeAfter = (await env.kube.list<V1Pod>('v1', 'Pod', { namespace: ns, fieldSelector: `spec.nodeName=${node}` })).items;
    assert.deepEqual(onNodeAfter.map((p) => p.metadata?.labels?.app), ['agent'], 'only the DaemonSet’s pod is left on the node');
    const moved = await runningPods(env.kube, ns, 4, 'app=web');
    assert.ok(moved.every((p) => p.spec?.nodeName !== node), 'the replacements run on the other nodes');

    // Again: nothing left to do, and it says so.
    const again = await tracelab(env.cp, ['node', 'drain', node]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`node ${node} is already cordoned[\\s\\S]*drained node ${node}: evicted 0 pods`));

    const uncordon = await tracelab(env.cp, ['node', 'uncordon', node]);
    assert.equal(uncordon.status, 0, uncordon.stderr);
    assert.match(uncordon.stderr, new RegExp(`uncordoned node ${node}: the scheduler places pods on it again`));
    assert.equal(await unschedulable(env.kube, node), false);
    const twice = await tracelab(env.cp, ['node', 'uncordon', node]);
    assert.equal(twice.status, 0, twice.stderr);
    assert.match(twice.stderr, new RegExp(`node ${node} is already schedulable`));
    await cleanUp(env, ns);
  });

  it('names an unknown node in one line, exit 2', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    for (const command of ['drain', 'uncordon']) {
      const run = await tracelab(env.cp, ['node', command, 'no-such-node']);
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /^✗ node 'no-such-node' does not exist in the cluster at https:\/\/127\.0\.0\.1:\d+ \(its nodes: kwok-node-0, kwok-node-1, kwok-node-2\) — pass one of those\n$/);
    }
  });

  it('times out with exit 6 naming the pod and the PodDisruptionBudget that blocks its eviction', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const ns = 'tracelab-pdb';
    await apply(env, ns, [
      deployment(ns, 'guarded', 2),
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'guarded', namespace: ns }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'guarded' } } } },
    ]);
    const guarded = await runningPods(env.kube, ns, 2);
    // The disruption controller counts the healthy pods: without it no budget would ever allow a disruption.
    await until('the disruption controller evaluated the budget', async () => {
      const pdb = await env.kube.get<V1PodDisruptionBudget>({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: 'guarded', namespace: ns });
      return pdb?.status?.currentHealthy === 2 && pdb.status.disruptionsAllowed === 0 ? true : undefined;
    });
    const node = guarded[0]?.spec?.nodeName ?? '';
    const blocked = guarded.filter((p) => p.spec?.nodeName === node).map((p) => p.metadata?.name ?? '');
    t.after(() => tracelab(env.cp, ['node', 'uncordon', node]));

    const run = await tracelab(env.cp, ['node', 'drain', node, '--timeout', '14s']);
    assert.equal(run.status, 6, run.stderr);
    for (const name of blocked) {
      assert.match(
        run.stderr,
        new RegExp(`pod ${ns}/${name} cannot be evicted: eviction refused by PodDisruptionBudget ${ns}/guarded allows 0 disruptions \\(minAvailable 2, 2 of 2 pods healthy\\)`),
      );
    }
    assert.match(run.stderr, /^✗ timed out after 14s draining node /m);
    assert.match(run.stderr, new RegExp(`… still waiting after 10s: .*pod ${ns}/${blocked[0] ?? ''}: eviction refused by PodDisruptionBudget ${ns}/guarded`));
    assert.ok(run.ms < 25_000, `ended ${run.ms} ms after it started, for a 14 s --timeout`);
    assert.equal(await unschedulable(env.kube, node), true, 'the node stays cordoned, as the message says');
    const left = (await env.kube.list<V1Pod>('v1', 'Pod', { namespace: ns, fieldSelector: `spec.nodeName=${node}` })).items.filter(running);
    assert.deepEqual(left.map((p) => p.metadata?.name).sort(), [...blocked].sort(), 'the guarded pods were not evicted');

    // Ctrl-C while a budget holds the drain up: exit 130, saying what was done.
    let sent = false;
    const stopped = await tracelab(env.cp, ['node', 'drain', node], {
      onStderr: (text, child) => {
        if (!sent && text.includes(`node ${node} is already cordoned`)) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 1_000);
        }
      },
    });
    assert.equal(stopped.status, 130, stopped.stderr);
    assert.ok(stopped.ms < 15_000, `stopped ${stopped.ms} ms after it started`);
    assert.match(stopped.stderr, new RegExp(`interrupted while draining node ${node}: cordoned it; evicted nothing; not evicted: ${ns}/guarded-\\S+ — run the same command again to finish, or tracelab node uncordon ${node} to undo the cordon`));
    await tracelab(env.cp, ['node', 'uncordon', node]);
    await cleanUp(env, ns);
  });

  it('refuses a pod no controller recreates unless --force, changing nothing before it', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const ns = 'tracelab-bare';
    const node = 'kwok-node-2';
    await apply(env, ns, [
      deployment(ns, 'web', 3),
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lonely', namespace: ns }, spec: { nodeName: node, containers: [{ name: 'server', image: 'registry.invalid/lonely:1' }] } },
    ]);
    await runningPods(env.kube, ns, 4);
    const before = await nodeState(env.kube, node);
    for (const dryRun of [[], ['--dry-run']]) {
      const run = await tracelab(env.cp, [...dryRun, 'node', 'drain', node]);
      assert.equal(run.status, 5, run.stderr);
      assert.match(
        run.stderr,
        /^✗ refusing to drain node kwok-node-2: pod tracelab-bare\/lonely has no controller to recreate it elsewhere, so evicting deletes it for good — move or delete it yourself, or pass --force; nothing was changed \(the node is not cordoned\)\n$/,
      );
    }
    assert.equal(await nodeState(env.kube, node), before, 'not cordoned, no pod evicted');

    t.after(() => tracelab(env.cp, ['node', 'uncordon', node]));
    const forced = await tracelab(env.cp, ['node', 'drain', node, '--force', '--timeout', '60s']);
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stderr, /evicted pod tracelab-bare\/lonely \(no controller: --force deletes it for good\)/);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'Pod', name: 'lonely', namespace: ns }), undefined);
    await cleanUp(env, ns);
  });

  it('--dry-run says what it would cordon and evict and changes nothing', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const ns = 'tracelab-dry';
    await apply(env, ns, [
      deployment(ns, 'web', 3, { volumes: [{ name: 'scratch', emptyDir: {} }] }),
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'web', namespace: ns }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } } },
    ]);
    const web = await runningPods(env.kube, ns, 3);
    await until('the disruption controller evaluated the budget', async () => {
      const pdb = await env.kube.get<V1PodDisruptionBudget>({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: 'web', namespace: ns });
      return pdb?.status?.currentHealthy === 3 ? true : undefined;
    });
    const node = web[0]?.spec?.nodeName ?? '';
    const name = web[0]?.metadata?.name ?? '';
    const before = await nodeState(env.kube, node);
    for (const args of [['--dry-run', 'node', 'drain', node], ['node', 'drain', node, '--dry-run']]) {
      const run = await tracelab(env.cp, args);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`^would cordon node ${node}$`, 'm'));
      assert.match(
        run.stderr,
        new RegExp(`^would evict pod ${ns}/${name} \\(ReplicaSet web-\\w+\\); its emptyDir data is deleted \\(scratch\\); PodDisruptionBudget ${ns}/web allows 1 disruptions \\(maxUnavailable 1, 3 of 3 pods healthy\\) now$`, 'm'),
      );
      assert.match(run.stderr, new RegExp(`node ${node}: would evict \\d+ pods, leave \\d+ alone \\(dry run: nothing was changed\\)`));
    }
    assert.equal(await nodeState(env.kube, node), before, 'still schedulable, every pod still there');

    // uncordon's dry run, on a cordoned node
    await env.cp.kubectl(['cordon', node]);
    const dryUncordon = await tracelab(env.cp, ['--dry-run', 'node', 'uncordon', node]);
    assert.equal(dryUncordon.status, 0, dryUncordon.stderr);
    assert.match(dryUncordon.stderr, new RegExp(`would uncordon node ${node} \\(dry run: nothing was changed\\)`));
    assert.equal(await unschedulable(env.kube, node), true);
    await env.cp.kubectl(['uncordon', node]);
    await cleanUp(env, ns);
  });
});
