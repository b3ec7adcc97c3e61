import type { GlobalOptions } from '../core/context.ts';
import { UserError, exitCodes } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { KubeApiError } from '../core/kube/errors.ts';
import { withKube } from '../core/kube/commands.ts';
import { hostAccess } from './host-access.ts';
import { readInventory } from './inventory.ts';
import { labHostExecutor, type SshFlags } from './multinode.ts';
import { drainNode } from './node.ts';
import { resetHost } from './reset.ts';

export interface RemoveNodeOptions extends SshFlags {
  readonly node: string;
  readonly inventory: string;
  readonly force: boolean;
  readonly timeoutMs: number;
}

/**
 * `tracelab node remove NAME --inventory FILE`: drain the node, delete it from the cluster, then put
 * its host back as it was (kubeadm reset, the pod network's files and iptables rules, what tracelab
 * installed). The control plane is the lab itself: `tracelab reset` removes that.
 */
export async function removeNode(globals: GlobalOptions, options: RemoveNodeOptions): Promise<void> {
  const lab = readInventory(options.inventory);
  const host = lab.hosts.find((candidate) => candidate.name === options.node);
  if (host === undefined) throw new UserError(`${options.inventory} has no host named '${options.node}' (it has ${lab.hosts.map((h) => h.name).join(', ')}) — name one of those`);
  if (host === lab.controlPlane) throw new UserError(`${options.node} is the lab's control plane: removing it removes the lab — use \`tracelab reset --inventory ${options.inventory}\``, { exitCode: exitCodes.refused });
  if (!globals.dryRun) {
    const agreed = globals.confirm !== undefined && (await globals.confirm(`Remove node ${options.node}: drain it, delete it from the cluster and reset its host?`));
    if (!agreed) throw new UserError(`tracelab node remove drains ${options.node} and wipes its host — pass --yes to confirm (nothing was changed)`);
  }
  // The lab's own context, not whatever is current: a node of the same name elsewhere is not this one.
  await withKube({ ...globals, context: globals.context ?? lab.contextName }, (kube) => drainAndDelete(globals, kube, options), options.timeoutMs);
  const executor = labHostExecutor(host, options);
  try {
    await resetHost(hostAccess(executor, { dryRun: globals.dryRun, output: globals.output }), { dryRun: globals.dryRun, output: globals.output, confirm: () => Promise.resolve(true) });
  } finally {
    await executor.close();
  }
  if (!globals.dryRun) globals.output.info(`removed ${options.node}: drained, deleted from the cluster, its host reset`);
}

async function drainAndDelete(globals: GlobalOptions, kube: KubeClient, options: RemoveNodeOptions): Promise<void> {
  const ref = { apiVersion: 'v1', kind: 'Node', name: options.node };
  // Gone already (a re-run after the host reset failed): on to the host.
  if ((await kube.get(ref)) === undefined) {
    globals.output.info(`  Node ${options.node} is not in the cluster (any more): resetting its host`);
    return;
  }
  await drainNode(kube, { node: options.node, force: options.force, dryRun: globals.dryRun, timeoutMs: options.timeoutMs, output: globals.output, signal: globals.signal });
  if (globals.dryRun) {
    globals.output.info(`  would delete Node ${options.node}`);
    return;
  }
  await globals.output.step(`Delete Node ${options.node}`, async () => {
    try {
      await kube.request('DELETE', await kube.path(ref));
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  });
}
