import type { GlobalOptions } from '../core/context.ts';
import { UserError, exitCodes } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
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
export async function removeNode(globals: GlobalOptions, kube: KubeClient, options: RemoveNodeOptions): Promise<void> {
  const lab = readInventory(options.inventory);
  const host = lab.hosts.find((candidate) => candidate.name === options.node);
  if (host === undefined) throw new UserError(`${options.inventory} has no host named '${options.node}' (it has ${lab.hosts.map((h) => h.name).join(', ')}) — name one of those`);
  if (host === lab.controlPlane) throw new UserError(`${options.node} is the lab's control plane: removing it removes the lab — use \`tracelab reset --inventory ${options.inventory}\``, { exitCode: exitCodes.refused });
  if (!globals.dryRun) {
    const agreed = globals.confirm !== undefined && (await globals.confirm(`Remove node ${options.node}: drain it, delete it from the cluster and reset its host?`));
    if (!agreed) throw new UserError(`tracelab node remove drains ${options.node} and wipes its host — pass --yes to confirm (nothing was changed)`);
  }
  await drainNode(kube, { node: options.node, force: options.force, dryRun: globals.dryRun, timeoutMs: options.timeoutMs, output: globals.output, signal: globals.signal });
  const ref = { apiVersion: 'v1', kind: 'Node', name: options.node };
  if (globals.dryRun) globals.output.info(`  would delete Node ${options.node}`);
  else await globals.output.step(`Delete Node ${options.node}`, async () => kube.request('DELETE', await kube.path(ref)));
  const executor = labHostExecutor(host, options);
  try {
    await resetHost(hostAccess(executor, { dryRun: globals.dryRun, output: globals.output }), { dryRun: globals.dryRun, output: globals.output, confirm: () => Promise.resolve(true) });
  } finally {
    await executor.close();
  }
  if (!globals.dryRun) globals.output.info(`removed ${options.node}: drained, deleted from the cluster, its host reset`);
}
