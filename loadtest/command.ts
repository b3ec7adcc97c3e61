import type { Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { parseDuration } from '../core/kube/duration.ts';
import { demoDefaults } from '../demo/options.ts';
import { k6Image } from './runners/k6-config.ts';
import { scenarios } from './scenarios/index.ts';
import { findScenario, parseRunner, parseTarget, runnerNames, thresholdsFailedExitCode } from './options.ts';

interface LoadtestFlags {
  runner: string;
  namespace: string;
  target?: string;
  timeline: boolean;
  sampleEvery: string;
  k6Image: string;
}

/** `tracelab loadtest <scenario>` (npm run loadtest -- <scenario>). */
export function registerLoadtestCommands(program: Command, globals: (command: Command) => GlobalOptions): void {
  program
    .command('loadtest')
    .description(`run a load scenario against the demo: a summary, its thresholds (exit ${String(thresholdsFailedExitCode)} when one fails), the autoscalers' timeline, links to Grafana and Jaeger`)
    .argument('[scenario]', `one of: ${scenarios.map((s) => `${s.name} (${s.intent})`).join('; ')}`)
    .option('--runner <name>', `${runnerNames.join(' or ')} — k6: a Job in the cluster (pinned grafana/k6); node: autocannon from this machine through a port-forward`, 'k6')
    .option('--namespace <name>', "the demo's namespace", demoDefaults.namespace)
    .option('--target <url>', 'send the load to this URL instead of the frontend Service (e.g. an ingress, or the services run locally)')
    .option('--no-timeline', 'do not sample the Deployments and autoscalers (no cluster needed with --runner node --target)')
    .option('--sample-every <duration>', 'how often the timeline reads replicas and CPU', '5s')
    .option('--k6-image <ref>', 'the k6 image, e.g. a copy in the lab registry', k6Image)
    .action(async (name: string | undefined, flags: LoadtestFlags, command: Command) => {
      const options = globals(command);
      const settings = {
        scenario: findScenario(name),
        runner: parseRunner(flags.runner),
        namespace: flags.namespace,
        target: parseTarget(flags.target),
        timeline: flags.timeline,
        sampleEveryMs: parseDuration(flags.sampleEvery, '--sample-every'),
        k6Image: flags.k6Image,
      };
      // Loaded here: client-node and autocannon are for the commands that send load.
      const { runLoadtest } = await import('./run.ts');
      await runLoadtest(options, settings);
    });
}
