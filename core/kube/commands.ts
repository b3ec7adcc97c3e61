import { Option, type Command } from 'commander';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { GlobalOptions } from '../context.ts';
import { UserError } from '../errors.ts';
import { preparedOptions, type AfterApplyContext, type Layer } from '../layer.ts';
import { deployLayer } from './apply.ts';
import type { KubeClient } from './client.ts';
import { describeRef } from './objects.ts';
import { parseDuration } from './duration.ts';
import { writeRendered } from './render.ts';
import { describeOutcomes, explainKubeError, summarize, type DeployReport } from './report.ts';
import { teardownLayer } from './teardown.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

export const defaultTimeout = '5m';

/**
 * Runs work with a client for the user's kubeconfig/context, closing its connections after.
 * With a deadline, no request or retry outlasts it.
 */
export async function withKube<T>(globals: GlobalOptions, work: (kube: KubeClient) => Promise<T>, deadlineMs?: number): Promise<T> {
  // Loaded here, by the commands that talk to a cluster: client-node takes ~0.5 s to import,
  // which `--help`, `render` and `footprint` need not pay.
  const { createKube } = await import('./client.ts');
  const kube = createKube({ kubeconfig: globals.kubeconfig, context: globals.context, deadline: deadlineMs === undefined ? undefined : Date.now() + deadlineMs });
  try {
    return await work(kube);
  } finally {
    await kube.close();
  }
}

export function printReport(globals: GlobalOptions, report: DeployReport): void {
  for (const line of describeOutcomes(report, { includeUnchanged: false })) globals.output.info(line);
  if (globals.output.verbosity === 'verbose') {
    for (const line of describeOutcomes({ ...report, outcomes: report.outcomes.filter((o) => o.action === 'unchanged') }, { includeUnchanged: true })) {
      globals.output.detail(line);
    }
  }
  globals.output.info(summarize(report));
}

/** How `up`, `deploy demo` and `deploy monitoring` apply, as their flags say. */
export interface ApplyFlags {
  readonly timeout: string;
  readonly wait: boolean;
  readonly adopt?: boolean;
  readonly forceConflicts?: boolean;
}

/** The flags every applying command takes, so that they read the same everywhere. */
export function addApplyFlags(command: Command): Command {
  return command
    .addOption(new Option('--timeout <duration>', 'deadline of the whole run, retries and rollout wait included').default(defaultTimeout))
    .option('--no-wait', 'return once applied, without waiting for the rollout')
    .option('--adopt', 'take over objects that exist but tracelab did not create (teardown then deletes them)', false)
    .option('--force-conflicts', 'take back fields another manager (kubectl, an operator) changed since tracelab applied them', false);
}

/**
 * Parse, render, ask the layer what the cluster already has, apply, prune, the layer's
 * afterApply hook, wait: `tracelab up <layer>` and `tracelab deploy <layer>` alike.
 */
export async function upLayer<Options>(
  globals: GlobalOptions,
  layer: Layer<Options>,
  raw: Readonly<Record<string, string | undefined>>,
  flags: ApplyFlags,
  layers: readonly Layer<unknown>[] = [],
): Promise<DeployReport> {
  const { dryRun, output } = globals;
  const timeoutMs = parseDuration(flags.timeout, '--timeout');
  const parsed = await preparedOptions(layer, raw, { componentCache: globals.componentCache, searchPath: globals.searchPath, output });
  refuseNamespacesOfOtherLayers(layer, layer.render(parsed), layers);
  const afterApply = layer.afterApply?.bind(layer);
  const report = await withKube(globals, async (kube) => {
    const options = layer.adaptToCluster === undefined ? parsed : await adapted(layer, kube, parsed, { dryRun, output });
    return deployLayer(kube, {
      layer: layer.name,
      objects: layer.render(options),
      dryRun,
      timeoutMs,
      wait: flags.wait,
      output,
      adopt: flags.adopt === true,
      forceConflicts: flags.forceConflicts === true,
      confirm: globals.confirm,
      signal: globals.signal,
      command: `up ${layer.name}`,
      ...(afterApply === undefined ? {} : { afterApply: (client: KubeClient) => afterApply(client, options, { dryRun, output }) }),
    });
  }, timeoutMs);
  printReport(globals, report);
  return report;
}

/** The layer's look at the cluster before the render; an API failure there is one line like any other. */
async function adapted<Options>(layer: Layer<Options>, kube: KubeClient, options: Options, context: AfterApplyContext): Promise<Options> {
  try {
    return (await layer.adaptToCluster?.(kube, options, context)) ?? options;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw explainKubeError(`read what layer ${layer.name} builds on`, undefined, err);
  }
}

/** A layer never takes a namespace another layer owns (`deploy demo --namespace monitoring`). */
export function refuseNamespacesOfOtherLayers<Options>(layer: Layer<Options>, objects: readonly KubernetesObject[], layers: readonly Layer<unknown>[]): void {
  for (const object of objects) {
    if (object.kind !== 'Namespace') continue;
    const owner = layers.find((other) => other.name !== layer.name && (other.namespaces ?? []).includes(object.metadata?.name ?? ''));
    if (owner !== undefined) {
      throw new UserError(`namespace '${object.metadata?.name ?? ''}' belongs to layer ${owner.name}: layer ${layer.name} relabels its namespace and deletes it on teardown — choose another --namespace`);
    }
  }
}

/**
 * Layer flags after `up <layer>` / `render <layer>` are passed to the layer as raw values:
 * `--images a=b,c=d --replicas=3 --flag` → { images: 'a=b,c=d', replicas: '3', flag: 'true' }.
 */
export function parseLayerFlags(args: readonly string[]): Record<string, string> {
  const raw: Record<string, string> = {};
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (!arg.startsWith('--') || arg === '--') throw new UserError(`unexpected argument '${arg}' — layer options are flags like --images frontend=REF,backend=REF`);
    const equals = arg.indexOf('=');
    if (equals !== -1) {
      raw[arg.slice(2, equals)] = arg.slice(equals + 1);
      continue;
    }
    const next = args[index + 1];
    if (next !== undefined && !next.startsWith('--')) {
      raw[arg.slice(2)] = next;
      index++;
    } else {
      raw[arg.slice(2)] = 'true';
    }
  }
  return raw;
}

function findLayer(layers: readonly Layer<unknown>[], name: string): Layer<unknown> {
  const layer = layers.find((candidate) => candidate.name === name);
  if (layer === undefined) throw new UserError(`unknown layer '${name}' — known layers: ${layers.map((l) => l.name).join(', ')}`);
  return layer;
}

/** `tracelab up|teardown|render <layer>`, for every layer in the registry. */
export function registerLayerCommands(program: Command, globals: GlobalsOf, layers: readonly Layer<unknown>[]): void {
  const names = layers.map((layer) => layer.name).join(', ');
  const up = program
    .command('up')
    .description(`apply a layer (${names}), prune what it no longer renders, wait until it is ready`)
    .argument('<layer>', `one of: ${names}`)
    .argument('[layer-options...]', "the layer's flags, e.g. --images frontend=REF,backend=REF")
    .allowUnknownOption();
  addApplyFlags(up).action(async (name: string, layerArgs: string[], options: ApplyFlags, command: Command) => {
    const global = globals(command);
    await upLayer(global, findLayer(layers, name), parseLayerFlags(layerArgs), options, layers);
  });

  program
    .command('teardown')
    .description("delete every object a layer applied, in reverse order, and wait until they're gone")
    .argument('<layer>', `one of: ${names}`)
    .addOption(new Option('--timeout <duration>', 'deadline of the whole run, retries and the wait for the deletion included').default(defaultTimeout))
    .action(async (name: string, options: { timeout: string }, command: Command) => {
      const global = globals(command);
      const layer = findLayer(layers, name);
      const timeoutMs = parseDuration(options.timeout, '--timeout');
      const deleted = await withKube(
        global,
        (kube) => teardownLayer(kube, { layer: layer.name, dryRun: global.dryRun, timeoutMs, output: global.output, confirm: global.confirm, signal: global.signal, layerPrograms: layer.programs }),
        timeoutMs,
      );
      for (const ref of deleted) global.output.info(`- ${describeRef(ref)} ${global.dryRun ? 'would be deleted' : 'deleted'}`);
      const afterTeardown = layer.afterTeardown?.bind(layer);
      const leftovers = afterTeardown === undefined ? [] : await withKube(global, (kube) => afterTeardown(kube, { dryRun: global.dryRun, output: global.output }), timeoutMs);
      for (const line of leftovers) global.output.info(`- ${line} ${global.dryRun ? 'would be deleted' : 'deleted'}`);
      global.output.info(`${layer.name}: ${deleted.length + leftovers.length} deleted${global.dryRun ? ' (dry run: nothing was changed)' : ''}`);
    });

  program
    .command('render')
    .description("write a layer's objects as YAML files (one per object, in apply order), for GitOps")
    .argument('<layer>', `one of: ${names}`)
    .argument('[layer-options...]', "the layer's flags, e.g. --images frontend=REF,backend=REF")
    .requiredOption('--out <dir>', 'directory to write the YAML files into')
    .allowUnknownOption()
    .action(async (name: string, layerArgs: string[], options: { out: string }, command: Command) => {
      const global = globals(command);
      const layer = findLayer(layers, name);
      const objects = layer.render(await preparedOptions(layer, parseLayerFlags(layerArgs), { componentCache: global.componentCache, searchPath: global.searchPath, output: global.output }));
      const files = await writeRendered(layer.name, objects, options.out);
      global.output.info(`${layer.name}: wrote ${files.length} files to ${options.out}`);
    });
}
