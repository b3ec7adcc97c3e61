/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// Integration: what the deploy engine must never do, on a real local control plane: take or
// delete what is not its own, undo other people's changes silently, run twice at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { createRecordingOutput } from '../../../core/output.ts';
import { deployLayer } from '../../../core/kube/apply.ts';
import { localCluster, tracelab } from './local-cluster.ts';
import { acquireLayerLock } from '../../../core/kube/lock.ts';
import { teardownLayer } from '../../../core/kube/teardown.ts';
import { UserError } from '../../../core/errors.ts';

const images = 'frontend=registry.invalid/tracelab/frontend:v1,backend=registry.invalid/tracelab/backend:v1';
const images2 = 'frontend=registry.invalid/tracelab/frontend:v1,backend=registry.invalid/tracelab/backend:v2';

const cluster = localCluster(1);

const backendRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'backend', namespace: 'tracelab-demo' };

describe('the deploy engine never takes or deletes what is not its own', () => {
  it('deploys the demo (the starting point of the cases below)', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const run = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--timeout', '2m']);
    assert.equal(run.status, 0, run.stderr);
  });

  it('prune and teardown leave a labelled copy in another namespace alone', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    // A copy of the demo's backend Service, labels and all, made by someone with kubectl.
    const live = await env.kube.get({ apiVersion: 'v1', kind: 'Service', name: 'backend', namespace: 'tracelab-demo' });
    const copy = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace: 'team-b', labels: live?.metadata?.labels }, spec: { ports: [{ port: 8080 }] } };
    await env.cp.kubectl(['create', 'namespace', 'team-b']);
    await env.cp.kubectl(['create', '-f', '-'], { input: JSON.stringify(copy) });
    // A render without the backend PDB makes the next deploy prune.
    const { renderDemo } = await import('../../../demo/render.ts');
    const { parseDemoOptions } = await import('../../../demo/options.ts');
    const objects = renderDemo(parseDemoOptions({ images })).filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata?.name === 'backend'));
    const report = await deployLayer(env.kube, { layer: 'demo', objects, dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() });
    assert.deepEqual(
      report.outcomes.filter((o) => o.action === 'pruned').map((o) => `${o.ref.kind} ${o.ref.namespace ?? ''}/${o.ref.name}`),
      ['PodDisruptionBudget tracelab-demo/backend'],
    );
    assert.ok(await env.kube.get({ apiVersion: 'v1', kind: 'Service', name: 'backend', namespace: 'team-b' }), 'the copy in team-b survives the prune');
    const dry = await tracelab(env.cp, ['--dry-run', 'teardown', 'demo']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.doesNotMatch(dry.stderr, /team-b/);
  });

  it('reports a kubectl scale as a conflict naming kubectl and spec.replicas, and takes it back only with --force-conflicts', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const objects: KubernetesObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tracelab-scaled' } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: 'tracelab-scaled' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'server', image: 'registry.invalid/web:1' }] } } },
      } as V1Deployment,
    ];
    const deploy = (forceConflicts: boolean) => deployLayer(env.kube, { layer: 'scaled', objects, dryRun: false, timeoutMs: 60_000, output: createRecordingOutput(), forceConflicts });
    await deploy(false);
    await env.cp.kubectl(['scale', '-n', 'tracelab-scaled', 'deployment/web', '--replicas=3']);

    const err = await deploy(false).catch((e: unknown) => e);
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.exitCode, 5);
    assert.match(err.message, /^apply Deployment tracelab-scaled\/web: spec\.replicas \(changed by kubectl[^)]*\) since tracelab applied it — .*--force-conflicts/);
    const web = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'tracelab-scaled' };
    assert.equal((await env.kube.get<V1Deployment>(web))?.spec?.replicas, 3, 'the refused run changed nothing');

    const report = await deploy(true);
    const changed = report.outcomes.find((o) => o.action === 'changed');
    assert.deepEqual(changed?.changes.map((c) => `${c.path} ${String(c.before)} → ${String(c.after)}`), ['spec.replicas 3 → 1']);
    assert.match((changed.takenFrom ?? []).join(','), /^kubectl/);
    assert.equal((await env.kube.get<V1Deployment>(web))?.spec?.replicas, 1);
    await teardownLayer(env.kube, { layer: 'scaled', dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() });
  });

  it('reports a kubectl set image as a conflict; re-deploying a new image keeps the replica count the autoscaler set', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    await env.cp.kubectl(['set', 'image', '-n', 'tracelab-demo', 'deployment/backend', 'server=registry.invalid/someone/else:1']);
    const refused = await tracelab(env.cp, ['deploy', 'demo', '--images', images]);
    assert.equal(refused.status, 5, refused.stderr);
    assert.match(refused.stderr, /apply Deployment tracelab-demo\/backend: spec\.template\.spec\.containers\[name="server"\]\.image \(changed by kubectl[^)]*\)/);
    const taken = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--force-conflicts']);
    assert.equal(taken.status, 0, taken.stderr);
    assert.match(taken.stderr, /~ Deployment tracelab-demo\/backend: spec\.template\.spec\.containers\[server\]\.image "registry\.invalid\/someone\/else:1" → "registry\.invalid\/tracelab\/backend:v1" \(taking it back from kubectl/);

    // Above the HPA's maximum (5): the real HPA controller scales it back to 5.
    await env.cp.kubectl(['scale', '-n', 'tracelab-demo', 'deployment/backend', '--replicas=7']);
    const deadline = Date.now() + 60_000;
    while ((await env.kube.get<V1Deployment>(backendRef))?.spec?.replicas !== 5) {
      assert.ok(Date.now() < deadline, 'the HPA scaled backend to its maximum of 5 within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const redeploy = await tracelab(env.cp, ['deploy', 'demo', '--images', images2, '--timeout', '2m']);
    assert.equal(redeploy.status, 0, redeploy.stderr);
    const backend = await env.kube.get<V1Deployment>(backendRef);
    assert.equal(backend?.spec?.replicas, 5, 'the autoscaler’s count survives a re-deploy');
    assert.equal(backend.spec.template.spec?.containers[0]?.image, 'registry.invalid/tracelab/backend:v2');
    assert.doesNotMatch(redeploy.stderr, /spec\.replicas/);
  });

  it('refuses --namespace of another layer (exit 5) and of Kubernetes (exit 2), changing nothing', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    await deployLayer(env.kube, {
      layer: 'other',
      objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'owned-by-other' } }],
      dryRun: false,
      timeoutMs: 30_000,
      output: createRecordingOutput(),
    });
    const before = (await env.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'owned-by-other' }))?.metadata?.resourceVersion;
    for (const dryRun of [[], ['--dry-run']]) {
      const run = await tracelab(env.cp, [...dryRun, 'deploy', 'demo', '--images', images, '--namespace', 'owned-by-other']);
      assert.equal(run.status, 5, run.stderr);
      assert.match(run.stderr, /Namespace owned-by-other belongs to tracelab layer other; layer demo will not take it over — choose another --namespace/);
    }
    assert.equal((await env.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'owned-by-other' }))?.metadata?.resourceVersion, before);
    const system = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--namespace', 'kube-system']);
    assert.equal(system.status, 2, system.stderr);
    assert.match(system.stderr, /--namespace 'kube-system' is a namespace Kubernetes itself uses/);
    await teardownLayer(env.kube, { layer: 'other', dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() });
  });

  it('names an object it did not create as adopted, refuses it without --adopt, and owns it with', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    await env.cp.kubectl(['create', 'namespace', 'tracelab-made-by-hand']);
    const dry = await tracelab(env.cp, ['--dry-run', 'deploy', 'demo', '--images', images, '--namespace', 'tracelab-made-by-hand']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stderr, /! Namespace tracelab-made-by-hand adopted: it exists but tracelab did not create it \(made by kubectl-create\)/);
    const refused = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--namespace', 'tracelab-made-by-hand']);
    assert.equal(refused.status, 5, refused.stderr);
    assert.match(refused.stderr, /refusing to take over an object that demo did not create: Namespace tracelab-made-by-hand \(made by kubectl-create\) — pass --adopt/);
    // The refusal came before anything was written: the live demo was not pruned.
    assert.ok(await env.kube.get(backendRef));

    // With --adopt the layer takes it over on purpose, and from then on it is the layer's.
    const objects = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tracelab-made-by-hand' } }];
    const adopted = await deployLayer(env.kube, { layer: 'adoptee', objects, dryRun: false, timeoutMs: 30_000, output: createRecordingOutput(), adopt: true });
    assert.deepEqual(adopted.outcomes.map((o) => o.action), ['adopted']);
    const again = await deployLayer(env.kube, { layer: 'adoptee', objects, dryRun: false, timeoutMs: 30_000, output: createRecordingOutput() });
    assert.deepEqual(again.outcomes.map((o) => o.action), ['unchanged']);
    const deleted = await teardownLayer(env.kube, { layer: 'adoptee', dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() });
    assert.deepEqual(deleted.map((ref) => ref.name), ['tracelab-made-by-hand']);
  });

  it('stops a teardown at a hand-made Secret in the namespace until confirmed with --yes', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    await env.cp.kubectl(['create', 'secret', 'generic', 'hand-made', '-n', 'tracelab-demo', '--from-literal=k=v']);
    const dry = await tracelab(env.cp, ['--dry-run', 'teardown', 'demo']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stderr, /deleting Namespace tracelab-demo also deletes an object demo did not create: Secret tracelab-demo\/hand-made \(a real run asks first, or needs --yes\)/);
    const refused = await tracelab(env.cp, ['teardown', 'demo']);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /Secret tracelab-demo\/hand-made — move or back up what you need and pass --yes; nothing was deleted/);
    assert.ok(await env.kube.get(backendRef), 'nothing was deleted');
    assert.ok(await env.kube.get({ apiVersion: 'v1', kind: 'Secret', name: 'hand-made', namespace: 'tracelab-demo' }));
    await env.cp.kubectl(['delete', 'secret', 'hand-made', '-n', 'tracelab-demo']);
  });

  it('fails a teardown within seconds when an aggregated API does not answer, naming it and deleting nothing', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const apiService = {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io' },
      spec: { group: 'metrics.k8s.io', version: 'v1beta1', groupPriorityMinimum: 100, versionPriority: 100, insecureSkipTLSVerify: true, service: { name: 'metrics-server', namespace: 'kube-system', port: 443 } },
    };
    await env.cp.kubectl(['create', '-f', '-'], { input: JSON.stringify(apiService) });
    t.after(() => env.cp.kubectl(['delete', 'apiservice', 'v1beta1.metrics.k8s.io', '--ignore-not-found']));
    const run = await tracelab(env.cp, ['teardown', 'demo', '--yes']);
    assert.equal(run.status, 7, run.stderr);
    assert.match(run.stderr, /cannot delete Namespace tracelab-demo: the aggregated API v1beta1\.metrics\.k8s\.io \(Available=False [^)]*\) does not answer.*nothing was deleted/);
    assert.ok(run.ms < 15_000, `failed in ${run.ms} ms`);
    assert.ok(await env.kube.get(backendRef), 'nothing was deleted');
  });

  it('lets one run per layer at a time: the second names the first and exits 7', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const lock = await acquireLayerLock(env.kube, 'demo', 'deploy demo (a colleague)');
    try {
      const run = await tracelab(env.cp, ['deploy', 'demo', '--images', images2]);
      assert.equal(run.status, 7, run.stderr);
      assert.match(run.stderr, /another tracelab run is changing layer demo \(.+ pid \d+: deploy demo \(a colleague\); lock renewed \d+s ago\) — wait until it ends/);
      // A dry run takes no lock and changes nothing, so it runs.
      const dry = await tracelab(env.cp, ['--dry-run', 'deploy', 'demo', '--images', images2]);
      assert.equal(dry.status, 0, dry.stderr);
    } finally {
      await lock.release();
    }
    const after = await tracelab(env.cp, ['deploy', 'demo', '--images', images2]);
    assert.equal(after.status, 0, after.stderr);
  });

  it('rebuilds a deleted ApplySet record from the labels, with a warning', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    await env.cp.kubectl(['delete', 'configmap', '-n', 'kube-system', 'tracelab-layer-demo']);
    const dry = await tracelab(env.cp, ['--dry-run', 'teardown', 'demo']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stderr, /the ApplySet record ConfigMap kube-system\/tracelab-layer-demo was missing: rebuilt it/);
    assert.match(dry.stderr, /demo: 19 deleted \(dry run: nothing was changed\)/);
    const deploy = await tracelab(env.cp, ['deploy', 'demo', '--images', images2]);
    assert.equal(deploy.status, 0, deploy.stderr);
    assert.match(deploy.stderr, /was missing: rebuilt it from 19 objects/);
    assert.ok(await env.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'tracelab-layer-demo', namespace: 'kube-system' }));
  });

  it('says what is still pending at least every 10 s without a terminal, and times out with exit code 6', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const output = createRecordingOutput();
    const objects: KubernetesObject[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tracelab-hungry' } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'hungry', namespace: 'tracelab-hungry' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'hungry' } },
          template: { metadata: { labels: { app: 'hungry' } }, spec: { containers: [{ name: 'server', image: 'registry.invalid/x:1', resources: { requests: { cpu: '64' } } }] } },
        },
      } as V1Deployment,
    ];
    const err = await deployLayer(env.kube, { layer: 'hungry', objects, dryRun: false, timeoutMs: 21_000, output }).catch((e: unknown) => e);
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.exitCode, 6);
    const progress = output.lines.filter((line) => line.includes('still waiting'));
    assert.equal(progress.length, 2, output.lines.join('\n'));
    assert.match(progress[0] ?? '', /still waiting after 10s: Deployment tracelab-hungry\/hungry: 0 of 1 updated replicas available/);

    // Ctrl-C during the wait: the engine stops, says what it applied, exit code 130.
    const interrupt = new AbortController();
    setTimeout(() => {
      interrupt.abort();
    }, 2_000);
    const stopped = await deployLayer(env.kube, { layer: 'hungry', objects, dryRun: false, timeoutMs: 60_000, output: createRecordingOutput(), signal: interrupt.signal }).catch((e: unknown) => e);
    assert.ok(stopped instanceof UserError, String(stopped));
    assert.equal(stopped.exitCode, 130);
    assert.match(stopped.message, /^interrupted: hungry: applied nothing; not done: the rollout wait — run the same command again to finish$/);
    await teardownLayer(env.kube, { layer: 'hungry', dryRun: false, timeoutMs: 60_000, output: createRecordingOutput() });
  });

  it('leaves a metrics-server another tool installed alone, through deploy and teardown of monitoring', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const upstream = [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'system:metrics-server' }, rules: [{ apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] }] },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'metrics-server', namespace: 'kube-system', labels: { 'k8s-app': 'metrics-server' } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { 'k8s-app': 'metrics-server' } },
          template: { metadata: { labels: { 'k8s-app': 'metrics-server' } }, spec: { containers: [{ name: 'metrics-server', image: 'registry.k8s.io/metrics-server/metrics-server:v0.7.2' }] } },
        },
      },
    ];
    await env.cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: upstream }) });
    const refs = [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', name: 'system:metrics-server' },
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'metrics-server', namespace: 'kube-system' },
    ];
    // What an apply or delete would change; the controllers keep writing the Deployment's status subresource.
    const versions = async (): Promise<string[]> =>
      Promise.all(
        refs.map(async (ref) => {
          const live = await env.kube.get(ref);
          return `${live?.metadata?.uid ?? 'gone'} generation=${String(live?.metadata?.generation)} labels=${JSON.stringify(live?.metadata?.labels)} managers=${(live?.metadata?.managedFields ?? [])
            .filter((f) => f.subresource !== 'status')
            .map((f) => f.manager)
            .join(',')}`;
        }),
      );
    const before = await versions();
    try {
      const deploy = await tracelab(env.cp, ['deploy', 'monitoring', '--timeout', '2m']);
      assert.equal(deploy.status, 0, deploy.stderr);
      assert.match(deploy.stderr, /metrics-server is already installed \((ClusterRole|Deployment|APIService) [^,]*, not by tracelab\): leaving it alone/);
      assert.doesNotMatch(deploy.stderr, /metrics-server (created|adopted)/);
      assert.deepEqual(await versions(), before, 'deploy did not touch them');
      const down = await tracelab(env.cp, ['teardown', 'monitoring']);
      assert.equal(down.status, 0, down.stderr);
      assert.deepEqual(await versions(), before, 'teardown did not touch them');
    } finally {
      await tracelab(env.cp, ['teardown', 'monitoring']);
      await env.cp.kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: upstream }) });
    }
  });

  it('Ctrl-C on the CLI: exit 130 with an account of what was done', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    let sent = false;
    // Monitoring on fake nodes: metrics-server's API never answers, so the wait lasts.
    const run = await tracelab(env.cp, ['deploy', 'monitoring', '--metrics-server', 'true', '--timeout', '2m'], {
      onStderr: (text, child) => {
        if (!sent && /✓ Apply \d+ created or changed objects of monitoring/.test(text)) {
          sent = true;
          setTimeout(() => child.kill('SIGINT'), 500);
        }
      },
    });
    assert.equal(run.status, 130, run.stderr);
    assert.match(run.stderr, /interrupted: monitoring: applied .*Deployment monitoring\/prometheus.*; not done: the rollout wait — run the same command again to finish/);
    const down = await tracelab(env.cp, ['teardown', 'monitoring']);
    assert.equal(down.status, 0, down.stderr);
  });

  it('keeps --timeout as a deadline, retries included, against an API server that stopped answering', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const apiserver = env.cp.processes().find((p) => p.name === 'kube-apiserver');
    assert.ok(apiserver, 'the control plane records its kube-apiserver');
    process.kill(apiserver.pid, 'SIGSTOP');
    try {
      const run = await tracelab(env.cp, ['deploy', 'demo', '--images', images, '--timeout', '8s']);
      assert.equal(run.status, 4, run.stderr);
      assert.match(run.stderr, /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+: .*\(gave up after \d+ attempts? in [\d.]+s\)/);
      assert.ok(run.ms < 15_000, `ended ${run.ms} ms after it started, for an 8 s --timeout`);
    } finally {
      process.kill(apiserver.pid, 'SIGCONT');
    }
  });
});
