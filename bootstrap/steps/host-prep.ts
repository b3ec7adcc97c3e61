import { hostPrepCommands, renderHostFiles, sysctls } from '../host-prep.ts';
import { neededModules } from '../host-facts.ts';
import { factsOf, type BootstrapStep } from './step.ts';

/** The host's sysctls and swap as they were before the first host prep. */
export const hostPrepRecord = '/var/lib/tracelab/host-before.json';

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
    // What the host had before tracelab, once: `tracelab reset` puts it back.
    if ((await ctx.host.read(hostPrepRecord)) === undefined) {
      const before: Record<string, string> = {};
      for (const key of Object.keys(sysctls)) before[key] = (await ctx.host.read(`/proc/sys/${key.replaceAll('.', '/')}`))?.trim() ?? '';
      // The kubelet bind-mounts its root directory onto itself: reset takes off only what was added.
      const mountinfo = (await ctx.host.read('/proc/self/mountinfo')) ?? '';
      const kubeletMountIds = mountinfo
        .split('\n')
        .filter((line) => line.split(' ')[4] === '/var/lib/kubelet')
        .map((line) => line.split(' ')[0] ?? '');
      await ctx.host.write(hostPrepRecord, `${JSON.stringify({ sysctls: before, swap: factsOf(ctx).swapDevices, kubeletMountIds }, null, 2)}\n`, 0o600);
    }
    for (const file of renderHostFiles()) await ctx.host.write(file.path, file.content);
    for (const command of hostPrepCommands(factsOf(ctx))) await ctx.host.change(command);
  },
};
