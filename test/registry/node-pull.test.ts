import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../core/errors.ts';
import { labRegistryNodeLabel } from '../../registry/address.ts';
import { requireNodesPullingFromLabRegistry } from '../../registry/node-pull.ts';
import { localCluster, tracelab } from '../core/kube/local-cluster.ts';

const cluster = localCluster(2);

describe('requireNodesPullingFromLabRegistry() on the local control plane', () => {
  it('a cluster tracelab did not bootstrap (no node labelled): one line naming the label and --registry', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    await assert.rejects(
      requireNodesPullingFromLabRegistry(env.kube),
      (err: unknown) => err instanceof UserError && /^no node of this cluster can pull from the lab registry \(tracelab-registry:5000\): .* tracelab\.dev\/pulls-lab-registry=true — .* pass --registry REF \(and --pull-secret NAME\)/.test(err.message) && !err.message.includes('\n'),
    );
    // deploy:demo says so before it puts up a registry or builds anything.
    const run = await tracelab(env.cp, ['deploy', 'demo', '--timeout', '1m']);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr.trim().split('\n').at(-1) ?? '', /^✗ no node of this cluster can pull from the lab registry/);
    assert.equal(await env.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'tracelab-registry' }), undefined, 'no registry put up');
  });

  it('names the nodes bootstrap did not configure once one is', async (t) => {
    const env = await cluster(t);
    if (env === undefined) return;
    const names = (await env.cp.kubectl(['get', 'nodes', '-o', 'name'])).trim().split('\n').map((name) => name.replace('node/', '')).sort();
    assert.equal(names.length, 2);
    await env.cp.kubectl(['label', 'node', names[0] ?? '', `${labRegistryNodeLabel}=true`]);
    assert.deepEqual(await requireNodesPullingFromLabRegistry(env.kube), [names[1]]);
  });
});
