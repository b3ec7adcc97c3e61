// Integration: every command of every layer with --dry-run, against a cluster populated with
// both layers, changes nothing: every object keeps its resourceVersion (a dry run that deleted
// for real once passed every other test).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { requireComponents } from '../../testenv/components.ts';
import { controlPlaneBinaries, startControlPlane, type ControlPlane } from '../../testenv/controlplane.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const images = 'frontend=registry.invalid/tracelab/frontend:v1,backend=registry.invalid/tracelab/backend:v1';

/**
 * Kinds whose objects change by themselves on a quiet cluster: Events, the nodes' and leaders'
 * Leases, and Node status (kwok's heartbeats). Nothing tracelab does touches them.
 */
const changingByThemselves = new Set(['Event', 'Lease', 'Node']);

/** `Kind namespace/name` → resourceVersion of every object of every listable kind. */
async function snapshot(kube: KubeClient): Promise<Map<string, string>> {
  const groups = await kube.request<{ groups: { preferredVersion?: { groupVersion?: string } }[] }>('GET', '/apis');
  const versions = ['v1', ...groups.groups.map((g) => g.preferredVersion?.groupVersion ?? '').filter((v) => v !== '' && !v.startsWith('metrics.k8s.io/'))];
  const objects = new Map<string, string>();
  for (const apiVersion of versions) {
    const resources = await kube.request<{ resources: { name: string; kind: string; verbs: string[] }[] }>('GET', apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`);
    for (const resource of resources.resources) {
      if (resource.name.includes('/') || !resource.verbs.includes('list') || changingByThemselves.has(resource.kind)) continue;
      const list = await kube.list<KubernetesObject>(apiVersion, resource.kind);
      for (const item of list.items) objects.set(`${resource.kind} ${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`, item.metadata?.resourceVersion ?? '');
    }
  }
  return objects;
}

describe('--dry-run on every command of every layer, against a populated cluster', () => {
  let plane: ControlPlane | undefined;
  let kube: KubeClient | undefined;
  const out = mkdtempSync(join(tmpdir(), 'tracelab-dry-run-'));
  after(async () => {
    await kube?.close();
    await plane?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it('changes no object in the cluster', async (t) => {
    if (requireComponents(t, controlPlaneBinaries) === undefined) return;
    plane = await startControlPlane({ nodes: 1 });
    kube = createKube({ kubeconfig: plane.kubeconfig });
    const kubeconfig = plane.kubeconfig;
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, '--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    // Populated: both layers, a field another manager changed, an object made by hand in the demo namespace.
    for (const args of [
      // Without metrics-server: its API cannot answer on kwok's fake nodes, and while it does not,
      // Kubernetes deletes no namespace (test/core/kube/safety.test.ts shows that refusal).
      ['deploy', 'monitoring', '--metrics-server', 'false', '--no-wait'],
      ['deploy', 'demo', '--images', images, '--timeout', '2m'],
      ['up', 'storage', '--no-wait'],
    ]) {
      const result = run(...args);
      assert.equal(result.status, 0, result.stderr);
    }
    await plane.kubectl(['set', 'image', '-n', 'tracelab-demo', 'deployment/backend', 'server=registry.invalid/someone/else:1']);
    await plane.kubectl(['create', 'secret', 'generic', 'hand-made', '-n', 'tracelab-demo', '--from-literal=k=v']);
    // Let the controllers finish reacting to the above before the snapshot.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const before = await snapshot(kube);

    const commands: { args: string[]; status: number }[] = [
      { args: ['up', 'demo', '--images', images], status: 5 }, // the conflict: refused, like the real run
      { args: ['up', 'demo', '--images', images, '--force-conflicts', '--replicas', '3', '--backend-latency-ms', '20'], status: 0 },
      { args: ['deploy', 'demo', '--images', images, '--force-conflicts', '--namespace', 'tracelab-demo2', '--adopt'], status: 0 }, // prunes the whole demo
      { args: ['teardown', 'demo'], status: 0 },
      { args: ['--yes', 'teardown', 'demo'], status: 0 },
      { args: ['up', 'monitoring', '--metrics-server', 'false'], status: 0 },
      { args: ['deploy', 'monitoring', '--retention', '48h', '--dashboards', 'services', '--node-profile', 'worker'], status: 0 }, // creates metrics-server, changes the rest
      { args: ['teardown', 'monitoring'], status: 0 },
      { args: ['monitoring', 'password'], status: 0 },
      { args: ['up', 'registry'], status: 0 },
      { args: ['teardown', 'registry'], status: 0 },
      { args: ['up', 'headlamp'], status: 0 },
      { args: ['teardown', 'headlamp'], status: 0 },
      { args: ['ui', '--headlamp', '--password', '--port-offset', '25000'], status: 0 }, // installs Headlamp, reads the password, forwards nothing
      { args: ['render', 'demo', '--images', images, '--out', out], status: 0 },
      { args: ['footprint'], status: 0 },
      { args: ['up', 'storage', '--path', '/srv/tracelab-volumes'], status: 0 }, // changes the config and rolls the provisioner
      { args: ['teardown', 'storage'], status: 0 },
    ];
    const reports: string[] = [];
    for (const command of commands) {
      const result = run('--dry-run', ...command.args);
      assert.equal(result.status, command.status, `tracelab --dry-run ${command.args.join(' ')}:\n${result.stderr}`);
      reports.push(result.stderr);
    }
    // The dry runs did reach the paths that write for real: prune, delete, take over.
    assert.match(reports[1] ?? '', /taking it back from kubectl/);
    assert.match(reports[2] ?? '', /- Namespace tracelab-demo pruned/);
    assert.match(reports[3] ?? '', /demo: 19 deleted \(dry run: nothing was changed\)/);
    assert.match(reports[6] ?? '', /\+ Deployment kube-system\/metrics-server created/);
    assert.match(reports[7] ?? '', /monitoring: \d+ deleted \(dry run: nothing was changed\)/);
    assert.match(reports[13] ?? '', /\+ Deployment headlamp\/headlamp created[\s\S]*would request a 1h sign-in token/);
    assert.match(reports.at(-2) ?? '', /~ ConfigMap tracelab-storage\/local-path-config/);
    assert.match(reports.at(-1) ?? '', /storage: 11 deleted \(dry run: nothing was changed\)/);

    // Deletion is asynchronous (a namespace finalizes seconds later): look again after a while.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const afterwards = await snapshot(kube);
    const changed = [...before.keys()].filter((key) => afterwards.get(key) !== before.get(key)).map((key) => `${key}: ${before.get(key) ?? ''} → ${afterwards.get(key) ?? 'gone'}`);
    const added = [...afterwards.keys()].filter((key) => !before.has(key));
    assert.deepEqual({ changed, added }, { changed: [], added: [] });
    assert.ok(before.size > 100, `${before.size} objects compared`);
  });
});
