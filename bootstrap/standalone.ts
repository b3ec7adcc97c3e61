import { readFile, writeFile } from 'node:fs/promises';
import type { GlobalOptions } from '../core/context.ts';
import { UserError } from '../core/errors.ts';
import { preparedOptions, type Layer } from '../core/layer.ts';
import { upLayer } from '../core/kube/commands.ts';
import { istioImages } from '../mesh/istio-operator.ts';
import { localExecutor } from './executors/local.ts';
import { hostAccess } from './host-access.ts';
import { standaloneSteps } from './index.ts';
import { parseBootstrapOptions, type BootstrapFlags } from './options.ts';
import { removeFromKubeconfig } from './kubeconfig.ts';
import { resetHost } from './reset.ts';
import { runBootstrapSteps } from './run.ts';
import type { BootstrapContext, NodePlan } from './steps/step.ts';

/** `tracelab bootstrap` without an inventory: this host, then the layers on it. */
export async function bootstrapStandalone(globals: GlobalOptions, flags: BootstrapFlags, userKubeconfig: string, layers: readonly Layer<unknown>[], layerFlags: LayerFlags): Promise<void> {
  const lab = parseBootstrapOptions(flags, userKubeconfig);
  const monitoringOptions = monitoringOptionsFor(lab.source, layerFlags, layers);
  await checkLayerInputs(globals, lab.source, layers);
  const ctx: BootstrapContext = {
    host: hostAccess(localExecutor(), { dryRun: globals.dryRun, output: globals.output }),
    lab,
    output: globals.output,
    dryRun: globals.dryRun,
    facts: undefined,
    node: undefined,
    kube: undefined,
    join: undefined,
  };
  try {
    await runBootstrapSteps(standaloneSteps, ctx);
  } finally {
    await ctx.kube?.close();
  }
  if (globals.dryRun) return;
  await installLayers(globals, lab, layers, monitoringOptions, flags.timeout);
}

/** What bootstrap passes on to the monitoring layer. */
export interface LayerFlags {
  readonly grafana?: string | undefined;
  readonly nodeProfile?: string | undefined;
}

/**
 * The monitoring layer's options, validated before anything runs on a host. Grafana's image is
 * never in the artifacts (AGPL: tracelab does not build it); online it is pulled.
 */
export function monitoringOptionsFor(source: NodePlan['source'], flags: LayerFlags, layers: readonly Layer<unknown>[]): Record<string, string | undefined> {
  const options = { grafana: flags.grafana ?? String(source.kind !== 'artifacts'), 'node-profile': flags.nodeProfile };
  for (const layer of layers) if (layer.name === 'monitoring') layer.parseOptions(options);
  return options;
}

/**
 * The layers bootstrap installs: those marked installedByBootstrap (not the demo: `npm run
 * deploy:demo` builds its images first), without the mesh from artifacts, which hold no Envoy image.
 */
function bootstrapLayers(source: NodePlan['source'], layers: readonly Layer<unknown>[]): Layer<unknown>[] {
  return layers.filter((layer) => layer.installedByBootstrap === true && !(layer.name === 'mesh' && source.kind === 'artifacts'));
}

/** Before any host is touched: what the layers need locally (the mesh's istioctl) is there, or one line says what is missing. */
export async function checkLayerInputs(globals: GlobalOptions, source: NodePlan['source'], layers: readonly Layer<unknown>[]): Promise<void> {
  for (const layer of bootstrapLayers(source, layers)) {
    if (layer.prepare === undefined) continue;
    try {
      await preparedOptions(layer, {}, { componentCache: globals.componentCache, searchPath: globals.searchPath, output: globals.output });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      throw new UserError(`bootstrap installs the ${layer.name} layer, which needs what is missing here: ${err.message} — or pass --no-layers`, { cause: err, exitCode: err.exitCode });
    }
  }
}

/** After the cluster: the layers bootstrap installs, in the order of cli/layers.ts. */
export async function installLayers(globals: GlobalOptions, lab: Pick<NodePlan, 'userKubeconfig' | 'contextName' | 'source'>, layers: readonly Layer<unknown>[], monitoringOptions: Record<string, string | undefined>, timeout: string): Promise<void> {
  globals.output.info(`lab ready: kubectl --context ${lab.contextName} get nodes (kubeconfig ${lab.userKubeconfig})`);
  const layerGlobals = { ...globals, kubeconfig: lab.userKubeconfig, context: lab.contextName };
  if (lab.source.kind === 'artifacts' && layers.some((layer) => layer.name === 'mesh')) {
    globals.output.warn(`leaving the mesh out: the artifacts hold no Envoy proxy image (${istioImages.proxy} is C++, tracelab cannot assemble it) — import it on the nodes and run \`tracelab up mesh\``);
  }
  for (const layer of bootstrapLayers(lab.source, layers)) {
    if (layer.name === 'monitoring' && monitoringOptions.grafana === 'false' && lab.source.kind === 'artifacts') {
      globals.output.warn('leaving Grafana out: its image is not in the artifacts (AGPL: tracelab never builds it) — import it on the nodes and run `tracelab deploy monitoring --grafana true`');
    }
    await upLayer(layerGlobals, layer, layer.name === 'monitoring' ? monitoringOptions : {}, { timeout, wait: true }, layers);
  }
}

/** `tracelab reset`: this host, then the lab's entries in the user's kubeconfig. */
export async function resetStandalone(globals: GlobalOptions, userKubeconfig: string, contextName: string): Promise<void> {
  const host = hostAccess(localExecutor(), { dryRun: globals.dryRun, output: globals.output });
  await resetHost(host, { dryRun: globals.dryRun, output: globals.output, confirm: globals.confirm });
  await removeLabContext(globals, userKubeconfig, contextName);
}

/** The lab's context, cluster and user out of the user's kubeconfig (a dry run says it would). */
export async function removeLabContext(globals: GlobalOptions, userKubeconfig: string, contextName: string): Promise<void> {
  let existing: string | undefined;
  try {
    existing = await readFile(userKubeconfig, 'utf8');
  } catch {
    return;
  }
  const without = removeFromKubeconfig(existing, contextName);
  if (without === undefined) return;
  if (globals.dryRun) {
    globals.output.info(`  would remove context '${contextName}' from ${userKubeconfig}`);
    return;
  }
  await writeFile(userKubeconfig, without, { mode: 0o600 });
  globals.output.info(`removed context '${contextName}' from ${userKubeconfig}`);
}
