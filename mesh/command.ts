import type { Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { addApplyFlags, upLayer, type ApplyFlags } from '../core/kube/commands.ts';
import type { Layer } from '../core/layer.ts';
import { faultPresets, faults } from './faults.ts';
import { meshLayer } from './layer.ts';
import { parseFault } from './options.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

interface FaultFlags extends ApplyFlags {
  istioctl?: string;
  artifacts?: string;
}

/** `tracelab mesh fault <preset>`: re-applies the mesh with that fault; sampling and the rest stay as they are live. */
export function registerMeshCommands(program: Command, globals: GlobalsOf, layers: readonly Layer<unknown>[]): void {
  const mesh = program.command('mesh').description('the service mesh (Istio) of the lab: install it with `tracelab up mesh`');
  const fault = mesh
    .command('fault')
    .description(`inject a fault into frontend's calls to backend, or stop (${faultPresets.join(' | ')})`)
    .argument('<preset>', faultPresets.map((preset) => `${preset}: ${faults[preset].effect}`).join('; '))
    .option('--istioctl <path>', 'the istioctl to generate the mesh with (default: the artifacts’, the cache’s, then PATH’s)')
    .option('--artifacts <dir>', 'an artifacts directory whose bin/istioctl to use');
  addApplyFlags(fault).action(async (presetText: string, flags: FaultFlags, command: Command) => {
    const global = globals(command);
    const preset = parseFault(presetText);
    await upLayer(global, meshLayer, { fault: preset, istioctl: flags.istioctl, artifacts: flags.artifacts }, flags, layers);
    global.output.info(`${preset}${global.dryRun ? ' (dry run)' : ''}: ${faults[preset].effect}`);
  });
}
