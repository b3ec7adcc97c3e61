import { readFile, writeFile } from 'node:fs/promises';
import type { GlobalOptions } from '../core/context.ts';
import type { Layer } from '../core/layer.ts';
import { upLayer } from '../core/kube/commands.ts';
import { localExecutor } from './executors/local.ts';
import { hostAccess } from './host-access.ts';
import { standaloneSteps } from './index.ts';
import { parseBootstrapOptions, type BootstrapFlags } from './options.ts';
import { removeFromKubeconfig } from './kubeconfig.ts';
import { resetHost } from './reset.ts';
import { runBootstrapSteps } from './run.ts';
import type { BootstrapContext } from './steps/step.ts';

/** `tracelab bootstrap` without an inventory: this host, then the layers on it. */
export async function bootstrapStandalone(globals: GlobalOptions, flags: BootstrapFlags, userKubeconfig: string, layers: readonly Layer<unknown>[], grafana: string | undefined): Promise<void> {
  const lab = parseBootstrapOptions(flags, userKubeconfig);
  // Grafana's image is never in the artifacts (AGPL: tracelab does not build it); online it is pulled.
  const airGapped = lab.source.kind === 'artifacts';
  const monitoringOptions = { grafana: grafana ?? String(!airGapped) };
  // Validated now, before anything runs on the host.
  for (const layer of layers) if (layer.name === 'monitoring') layer.parseOptions(monitoringOptions);
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
    if (layer.name === 'monitoring' && grafana === undefined && airGapped) {
      globals.output.warn('leaving Grafana out: its image is not in the artifacts (AGPL: tracelab never builds it) — import it on the node and run `tracelab deploy monitoring --grafana true`');
    }
    await upLayer(layerGlobals, layer, layer.name === 'monitoring' ? monitoringOptions : {}, { timeout: flags.timeout, wait: true }, layers);
  }
}

/** `tracelab reset`: this host, then the lab's entries in the user's kubeconfig. */
export async function resetStandalone(globals: GlobalOptions, userKubeconfig: string, contextName: string): Promise<void> {
  const host = hostAccess(localExecutor(), { dryRun: globals.dryRun, output: globals.output });
  await resetHost(host, { dryRun: globals.dryRun, output: globals.output, confirm: globals.confirm });
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
