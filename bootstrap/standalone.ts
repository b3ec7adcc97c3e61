import type { GlobalOptions } from '../core/context.ts';
import type { Layer } from '../core/layer.ts';
import { upLayer } from '../core/kube/commands.ts';
import { localExecutor } from './executors/local.ts';
import { hostAccess } from './host-access.ts';
import { standaloneSteps } from './index.ts';
import { parseBootstrapOptions, type BootstrapFlags } from './options.ts';
import { runBootstrapSteps } from './run.ts';
import type { BootstrapContext } from './steps/step.ts';

/** `tracelab bootstrap` without an inventory: this host, then the layers on it. */
export async function bootstrapStandalone(globals: GlobalOptions, flags: BootstrapFlags, userKubeconfig: string, layers: readonly Layer<unknown>[]): Promise<void> {
  const lab = parseBootstrapOptions(flags, userKubeconfig);
  const ctx: BootstrapContext = {
    host: hostAccess(localExecutor(), { dryRun: globals.dryRun, output: globals.output }),
    lab,
    output: globals.output,
    dryRun: globals.dryRun,
    facts: undefined,
    node: undefined,
    kube: undefined,
  };
  try {
    await runBootstrapSteps(standaloneSteps, ctx);
  } finally {
    await ctx.kube?.close();
  }
  if (globals.dryRun) return;
  globals.output.info(`lab ready: kubectl --context ${lab.contextName} get nodes (kubeconfig ${lab.userKubeconfig})`);
  const layerGlobals = { ...globals, kubeconfig: lab.userKubeconfig, context: lab.contextName };
  for (const layer of layers) {
    if (layer.name === 'demo') continue; // deployed by `npm run deploy:demo`, which builds its images
    await upLayer(layerGlobals, layer, {}, { timeout: flags.timeout, wait: true }, layers);
  }
}
