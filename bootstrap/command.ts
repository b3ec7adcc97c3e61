import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { UserError } from '../core/errors.ts';
import type { Layer } from '../core/layer.ts';
import { bootstrapDefaults, type BootstrapFlags } from './options.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

interface BootstrapCommandFlags extends BootstrapFlags {
  layers: boolean;
  grafana?: string;
  nodeProfile?: string;
  inventory?: string;
  acceptNewHostKeys: boolean;
  sshConfig?: string;
}

/** `tracelab bootstrap` (npm run bootstrap) and `tracelab artifacts build`. */
export function registerBootstrapCommands(program: Command, globals: GlobalsOf, layers: readonly Layer<unknown>[]): void {
  program
    .command('bootstrap')
    .description('make this host a standalone kubeadm cluster (control plane that runs pods), or with --inventory a multi-node lab over SSH; then install the layers')
    .option('--inventory <file>', 'a multi-node lab over SSH, described in this file (see bootstrap/inventory.example.yaml)')
    .option('--accept-new-host-keys', "trust a host's SSH key the first time (a changed key is always refused)", false)
    .option('--ssh-config <file>', 'the ssh client configuration to use (default: ~/.ssh/config)')
    .option('--artifacts <dir>', 'install from an artifacts directory (air-gapped; made by `tracelab artifacts build`); default: online, from pkgs.k8s.io and pinned release archives')
    .option('--node-name <name>', "the node's name (default: the host name)")
    .option('--node-ip <address>', "the node's address (default: the host's only global IPv4 address)")
    .option('--pod-subnet <cidr>', 'pod network', bootstrapDefaults.podSubnet)
    .option('--service-subnet <cidr>', 'Service network', bootstrapDefaults.serviceSubnet)
    .option('--node-labels <labels>', 'labels for the node: key=value,… (e.g. tracelab.dev/profile=worker)')
    .option('--context-name <name>', 'the kubeconfig context (and cluster and user) the lab gets', bootstrapDefaults.contextName)
    .option('--kubelet-cgroup-root <path>', 'put the kubelet’s pods under this cgroup (several nodes on one machine)')
    .option('--no-layers', 'stop once the cluster is ready, without installing the layers')
    .option('--node-profile <name>', 'run node-exporter only on nodes labelled tracelab.dev/profile=<name> (default: every node)')
    .option('--grafana <bool>', 'install Grafana with the monitoring layer (default: true, false with --artifacts: its image is never in them)')
    .addOption(new Option('--timeout <duration>', 'how long to wait for each part to come up').default(bootstrapDefaults.timeout))
    .action(async (flags: BootstrapCommandFlags, command: Command) => {
      const global = globals(command);
      const userKubeconfig = global.kubeconfig?.split(':')[0] ?? join(homedir(), '.kube', 'config');
      const layerFlags = { grafana: flags.grafana, nodeProfile: flags.nodeProfile };
      if (flags.inventory !== undefined) {
        const { bootstrapLab } = await import('./multinode.ts');
        await bootstrapLab(global, { ...flags, inventory: flags.inventory }, command.getOptionValueSource.bind(command), userKubeconfig, flags.layers ? layers : [], layerFlags);
        return;
      }
      const { bootstrapStandalone } = await import('./standalone.ts');
      await bootstrapStandalone(global, flags, userKubeconfig, flags.layers ? layers : [], layerFlags);
    });

  program
    .command('reset')
    .description('put this host back as it was before bootstrap: cluster, services, pod network, installed files, host settings')
    .option('--context-name <name>', 'the kubeconfig context bootstrap added (removed from your kubeconfig)', bootstrapDefaults.contextName)
    .option('--inventory <file>', 'reset every host of a multi-node lab (its context name comes from the inventory)')
    .option('--accept-new-host-keys', "trust a host's SSH key the first time (a changed key is always refused)", false)
    .option('--ssh-config <file>', 'the ssh client configuration to use (default: ~/.ssh/config)')
    .action(async (flags: { contextName: string; inventory?: string; acceptNewHostKeys: boolean; sshConfig?: string }, command: Command) => {
      const global = globals(command);
      const userKubeconfig = global.kubeconfig?.split(':')[0] ?? join(homedir(), '.kube', 'config');
      if (flags.inventory !== undefined) {
        if (command.getOptionValueSource('contextName') === 'cli') throw new UserError(`--context-name describes a single host: with --inventory, the context is the inventory's contextName`);
        const { resetLab } = await import('./multinode.ts');
        await resetLab(global, { inventory: flags.inventory, acceptNewHostKeys: flags.acceptNewHostKeys, sshConfig: flags.sshConfig }, userKubeconfig);
        return;
      }
      const { resetStandalone } = await import('./standalone.ts');
      await resetStandalone(global, userKubeconfig, flags.contextName);
    });

  program
    .command('artifacts')
    .description('the air-gapped install’s artifacts')
    .command('build')
    .description('build every binary and image a lab installs (Go module proxy + locally assembled images) into a directory')
    .requiredOption('--out <dir>', 'the artifacts directory (re-running with the same pins changes nothing)')
    .action(async (flags: { out: string }, command: Command) => {
      const global = globals(command);
      const { buildArtifacts } = await import('./artifacts/build.ts');
      const { cacheBin } = await import('./artifacts/sources.ts');
      const result = await buildArtifacts(resolve(flags.out), { binDir: cacheBin(global.componentCache), runc: '/usr/sbin/runc' }, global.output);
      global.output.info(`${result.changed ? 'wrote' : 'kept'} ${Object.keys(result.manifest.files).length} files in ${flags.out} (Kubernetes ${result.manifest.kubernetesVersion}, ${result.manifest.images.length} images${result.manifest.baseImage === undefined ? '' : `, the Node ${result.manifest.baseImage.nodeVersion} base image`})`);
    });
}
