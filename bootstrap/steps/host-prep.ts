import { hostPrepCommands, renderHostFiles, sysctls } from '../host-prep.ts';
import { neededModules } from '../host-facts.ts';
import { readFiles } from '../host-access.ts';
import { factsOf, type BootstrapStep } from './step.ts';

const sysctlPath = (key: string): string => `/proc/sys/${key.replaceAll('.', '/')}`;

/** The host's sysctls and swap as they were before the first host prep. */
export const hostPrepRecord = '/var/lib/tracelab/host-before.json';

/** Kernel modules, sysctls and swap as Kubernetes needs them, now and after a reboot. */
export const hostPrep: BootstrapStep = {
  title: 'Prepare the host (kernel modules, sysctls, swap off)',
  async isDone(ctx) {
    const facts = factsOf(ctx);
    const files = renderHostFiles();
    const live = await readFiles(ctx.host, [...files.map((file) => file.path), ...Object.keys(sysctls).map(sysctlPath)]);
    if (files.some((file) => live.get(file.path) !== file.content)) return false;
    if (Object.entries(sysctls).some(([key, value]) => live.get(sysctlPath(key))?.trim() !== value)) return false;
    return facts.swapDevices.length === 0 && neededModules.every((module) => facts.modules.has(module));
  },
  async run(ctx) {
    // What the host had before tracelab, once: `tracelab reset` puts it back.
    const live = await readFiles(ctx.host, [hostPrepRecord, '/proc/self/mountinfo', ...Object.keys(sysctls).map(sysctlPath)]);
    if (live.get(hostPrepRecord) === undefined) {
      const before = Object.fromEntries(Object.keys(sysctls).map((key) => [key, live.get(sysctlPath(key))?.trim() ?? '']));
      // The kubelet bind-mounts its root directory onto itself: reset takes off only what was added.
      const mountinfo = live.get('/proc/self/mountinfo') ?? '';
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
