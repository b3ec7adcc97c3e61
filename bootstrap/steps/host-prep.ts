import { hostPrepCommands, renderHostFiles, sysctls } from '../host-prep.ts';
import { neededModules } from '../host-facts.ts';
import { factsOf, type BootstrapStep } from './step.ts';

/** Kernel modules, sysctls and swap as Kubernetes needs them, now and after a reboot. */
export const hostPrep: BootstrapStep = {
  title: 'Prepare the host (kernel modules, sysctls, swap off)',
  async isDone(ctx) {
    const facts = factsOf(ctx);
    for (const file of renderHostFiles()) if ((await ctx.host.read(file.path)) !== file.content) return false;
    for (const [key, value] of Object.entries(sysctls)) {
      const live = await ctx.host.read(`/proc/sys/${key.replaceAll('.', '/')}`);
      if (live?.trim() !== value) return false;
    }
    return facts.swapDevices.length === 0 && neededModules.every((module) => facts.modules.has(module));
  },
  async run(ctx) {
    for (const file of renderHostFiles()) await ctx.host.write(file.path, file.content);
    for (const command of hostPrepCommands(factsOf(ctx))) await ctx.host.change(command);
  },
};
