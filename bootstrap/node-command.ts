import { Option, type Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { parseDuration } from '../core/kube/duration.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

/** `tracelab node drain|uncordon|remove NAME`. */
export function registerNodeCommands(program: Command, globals: GlobalsOf): void {
  const node = program.command('node').description('node maintenance: drain a node before working on it, uncordon it after, remove it from the lab');

  node
    .command('drain')
    .description('cordon the node, then evict its pods through the Eviction API (PodDisruptionBudgets respected; DaemonSet and static pods stay) and wait until they are gone')
    .argument('<name>', 'the node')
    .option('--force', 'also evict pods that no controller recreates (they are deleted for good)', false)
    .addOption(new Option('--timeout <duration>', 'deadline of the whole drain, evictions a PodDisruptionBudget refuses included').default('5m'))
    .action(async (name: string, flags: { force: boolean; timeout: string }, command: Command) => {
      const global = globals(command);
      const timeoutMs = parseDuration(flags.timeout, '--timeout');
      const { withKube } = await import('../core/kube/commands.ts');
      const { drainNode } = await import('./node.ts');
      await withKube(global, (kube) => drainNode(kube, { node: name, force: flags.force, dryRun: global.dryRun, timeoutMs, output: global.output, signal: global.signal }), timeoutMs);
    });

  node
    .command('remove')
    .description("drain the node, delete it from the cluster and put its host back as it was (kubeadm reset, pod network, iptables rules, what tracelab installed)")
    .argument('<name>', 'the node (a worker of the inventory)')
    .requiredOption('--inventory <file>', 'the lab the node belongs to (how to reach its host)')
    .option('--force', 'also evict pods that no controller recreates', false)
    .option('--accept-new-host-keys', "trust the host's SSH key the first time", false)
    .option('--ssh-config <file>', 'the ssh client configuration to use (default: ~/.ssh/config)')
    .addOption(new Option('--timeout <duration>', 'deadline of the drain').default('5m'))
    .action(async (name: string, flags: { inventory: string; force: boolean; acceptNewHostKeys: boolean; sshConfig?: string; timeout: string }, command: Command) => {
      const global = globals(command);
      const timeoutMs = parseDuration(flags.timeout, '--timeout');
      const { removeNode } = await import('./node-remove.ts');
      await removeNode(global, { node: name, inventory: flags.inventory, force: flags.force, acceptNewHostKeys: flags.acceptNewHostKeys, sshConfig: flags.sshConfig, timeoutMs });
    });

  node
    .command('uncordon')
    .description('let the scheduler place pods on the node again')
    .argument('<name>', 'the node')
    .action(async (name: string, _flags: unknown, command: Command) => {
      const global = globals(command);
      const { withKube } = await import('../core/kube/commands.ts');
      const { uncordonNode } = await import('./node.ts');
      await withKube(global, (kube) => uncordonNode(kube, { node: name, dryRun: global.dryRun, output: global.output }));
    });
}
