import type { Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { UserError } from '../core/errors.ts';
import { fitsBudget, formatCpu, formatFootprint, formatMemory, labBudget, sumFootprints } from '../core/footprint.ts';
import type { Layer } from '../core/layer.ts';
import { addApplyFlags, upLayer, withKube, type ApplyFlags } from '../core/kube/commands.ts';
import type { DeployReport } from '../core/kube/report.ts';
import { createOutput } from '../core/output.ts';
import { labFootprint } from './footprint.ts';
import { ensureGrafanaAdminPassword, readGrafanaAdminPassword } from './grafana-admin.ts';
import { monitoringLayer, monitoringOptionDefaults, type MonitoringRawOptions } from './layer.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

/** `tracelab deploy monitoring`: `up monitoring` (the layer's hook fills the Grafana password) with the flags spelled out. */
export function deployMonitoring(globals: GlobalOptions, raw: MonitoringRawOptions, flags: ApplyFlags, layers: readonly Layer<unknown>[] = []): Promise<DeployReport> {
  return upLayer(globals, monitoringLayer, raw, flags, layers);
}

function parseNodes(text: string): number {
  const nodes = Number(text);
  if (!/^\d+$/.test(text) || nodes < 1 || nodes > 100) throw new UserError(`--nodes '${text}' is not a node count from 1 to 100: pass e.g. --nodes 3`);
  return nodes;
}

interface DeployMonitoringFlags extends ApplyFlags {
  retention?: string;
  retentionSize?: string;
  scrapeInterval?: string;
  maxTraces?: string;
  dashboards?: string;
  nodeProfile?: string;
  nodeSelector?: string;
  kubeletTls?: string;
  metricsServer?: string;
  grafana?: string;
}

/** `tracelab deploy monitoring`, `tracelab monitoring password`, `tracelab footprint`. */
export function registerMonitoringCommands(program: Command, globals: GlobalsOf, layers: readonly Layer<unknown>[]): void {
  const deploy = program.commands.find((command) => command.name() === 'deploy') ?? program.command('deploy').description('deploy a workload of the lab');
  const defaults = monitoringOptionDefaults;
  const monitoring = deploy
    .command('monitoring')
    .description('install Jaeger, Prometheus, Grafana, node-exporter and metrics-server and wait until they are available')
    .option('--retention <duration>', `how long Prometheus keeps samples, at least 6h (default ${defaults.retention})`)
    .option('--retention-size <size>', `at most this much TSDB data, 64MB..64GB (default ${defaults['retention-size']})`)
    .option('--scrape-interval <duration>', `Prometheus scrape and rule interval (default ${defaults['scrape-interval']})`)
    .option('--max-traces <n>', `traces Jaeger keeps in memory (default ${defaults['max-traces']})`)
    .option('--dashboards <list>', `Grafana dashboards to provision (default ${defaults.dashboards})`)
    .option('--node-profile <name>', 'run node-exporter only on nodes labelled tracelab.dev/profile=<name> (default: every node)')
    .option('--node-selector <labels>', 'run node-exporter only on nodes with these labels: key=value,…')
    .option('--kubelet-tls <mode>', "'insecure' (kubeadm's self-signed kubelet certs) or 'verified' (serverTLSBootstrap)", defaults['kubelet-tls'])
    .option('--metrics-server <bool>', 'install metrics-server (a metrics-server another tool installed is detected and left alone)', defaults['metrics-server'])
    .option('--grafana <bool>', 'install Grafana (false where its image cannot be had)', defaults.grafana);
  addApplyFlags(monitoring).action(async (flags: DeployMonitoringFlags, command: Command) => {
      const raw: MonitoringRawOptions = {
        retention: flags.retention,
        'retention-size': flags.retentionSize,
        'scrape-interval': flags.scrapeInterval,
        'max-traces': flags.maxTraces,
        dashboards: flags.dashboards,
        'node-profile': flags.nodeProfile,
        'node-selector': flags.nodeSelector,
        'kubelet-tls': flags.kubeletTls,
        'metrics-server': flags.metricsServer,
        grafana: flags.grafana,
      };
      await deployMonitoring(globals(command), raw, flags, layers);
  });

  program
    .command('monitoring')
    .description('the monitoring layer’s own tasks')
    .command('password')
    .description('print the Grafana admin user and password (kept in Secret monitoring/grafana-admin; generated first if missing)')
    .action(async (_options: unknown, command: Command) => {
      const global = globals(command);
      // A layer applied from `tracelab render monitoring` files (GitOps) has an empty Secret.
      const { user, password } = await withKube(global, async (kube) => {
        await ensureGrafanaAdminPassword(kube, { dryRun: global.dryRun });
        return readGrafanaAdminPassword(kube);
      });
      process.stdout.write(`user: ${user}\npassword: ${password}\n`);
    });

  program
    .command('footprint')
    .description('sum the CPU and memory requests and limits of every layer from the rendered manifests')
    .option('--nodes <n>', 'nodes of the cluster (DaemonSets run once per node)', '1')
    .option('--json', 'print the sums as JSON (CPU in millicores, memory in bytes)', false)
    .action(async (flags: { nodes: string; json: boolean }, command: Command) => {
      const global = globals(command);
      const nodes = parseNodes(flags.nodes);
      // Quiet: the mesh's istioctl run is not news here.
      const context = { componentCache: global.componentCache, searchPath: global.searchPath, output: createOutput({ verbosity: 'quiet' }) };
      const footprints = await labFootprint(layers, { nodes }, context);
      const busiest = await labFootprint(layers, { nodes, atAutoscalerMax: true }, context);
      const peak = sumFootprints(busiest);
      const pods = busiest.reduce((sum, layer) => sum + layer.pods, 0);
      if (flags.json) {
        const total = sumFootprints(footprints);
        const json = { nodes, budget: labBudget, layers: footprints, total, fits: fitsBudget(total), atAutoscalerMax: { pods, total: peak, fits: fitsBudget(peak) } };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        return;
      }
      const lines = formatFootprint(footprints);
      lines.push(
        `${fitsBudget(peak) ? '✓' : '✗'} at the autoscalers' maximum (${pods} pods): requests ${formatCpu(peak.cpuRequest)} CPU / ${formatMemory(peak.memoryRequest)}, limits ${formatCpu(peak.cpuLimit)} CPU / ${formatMemory(peak.memoryLimit)}`,
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
