import { copyFile, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createKube } from '../../core/kube/client.ts';
import { mergeKubeconfig } from '../kubeconfig.ts';
import { adminConf } from './kubeadm-init.ts';
import type { BootstrapContext, BootstrapStep } from './step.ts';

async function readLocal(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function merged(ctx: BootstrapContext): Promise<{ existing: string | undefined; text: string; replaced: readonly string[]; previousContext: string | undefined }> {
  const admin = await ctx.host.read(adminConf);
  if (admin === undefined) throw new Error(`${adminConf} is missing on ${ctx.host.name}: kubeadm init did not finish`);
  const existing = await readLocal(ctx.lab.userKubeconfig);
  return { existing, ...mergeKubeconfig(existing, admin, ctx.lab.contextName) };
}

/**
 * The lab's context in the user's kubeconfig (on this machine), 0600: merged into an existing
 * file, never overwriting it silently — what it replaced is named and the old file kept as a backup.
 */
export const userKubeconfig: BootstrapStep = {
  title: 'Add the lab to your kubeconfig',
  async isDone(ctx) {
    // A dry run on a new host has no cluster yet: nothing to compare.
    if (ctx.dryRun && (await ctx.host.read(adminConf)) === undefined) return false;
    const { existing, text } = await merged(ctx);
    return existing === text;
  },
  async run(ctx) {
    const file = ctx.lab.userKubeconfig;
    if (ctx.dryRun) {
      ctx.output.info(`  would add context '${ctx.lab.contextName}' to ${file} (0600)`);
    } else {
      const result = await merged(ctx);
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      if (result.existing !== undefined && result.replaced.length > 0) {
        const backup = `${file}.tracelab-backup-${new Date().toISOString().replace(/[:.]/g, '')}`;
        await copyFile(file, backup);
        await chmod(backup, 0o600);
        ctx.output.warn(`${file}: replaced ${result.replaced.join(', ')} (the previous file is kept as ${backup})`);
      }
      await writeFile(file, result.text, { mode: 0o600 });
      await chmod(file, 0o600);
      if (result.previousContext !== undefined && result.previousContext !== ctx.lab.contextName) {
        ctx.output.info(`  ${file}: current context is now '${ctx.lab.contextName}' (was '${result.previousContext}'; switch back with kubectl config use-context ${result.previousContext})`);
      }
    }
  },
};

/** A client for the lab through the user's kubeconfig, made once. */
export function labKube(ctx: BootstrapContext): NonNullable<BootstrapContext['kube']> {
  ctx.kube ??= createKube({ kubeconfig: ctx.lab.userKubeconfig, context: ctx.lab.contextName });
  return ctx.kube;
}
