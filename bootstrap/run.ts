import { UserError, errorMessage } from '../core/errors.ts';
import type { BootstrapContext, BootstrapStep } from './steps/step.ts';

/**
 * Runs the steps in order, one progress line each: a step whose work is already done is skipped
 * (so a re-run, or a run after a failure, continues where it stopped); a failure names the host,
 * the step and what to do next.
 */
export async function runBootstrapSteps(steps: readonly BootstrapStep[], ctx: BootstrapContext): Promise<{ ran: string[]; skipped: string[] }> {
  const ran: string[] = [];
  const skipped: string[] = [];
  for (const step of steps) {
    const title = `${ctx.host.name}: ${step.title}`;
    try {
      // Preflight's isDone is always false: it runs every time and reads the facts the others use.
      const done = await step.isDone(ctx);
      if (done) {
        skipped.push(step.title);
        ctx.output.info(` ✓ ${title} (already done)`);
        continue;
      }
      await ctx.output.step(title, () => step.run(ctx));
      ran.push(step.title);
    } catch (err) {
      // Every failure names its host and step (a host's own message may already start with its name).
      if (err instanceof UserError) throw err.message.startsWith(`${ctx.host.name} `) || err.message.startsWith(`${ctx.host.name}:`) ? err : new UserError(`${title}: ${err.message}`, { cause: err, exitCode: err.exitCode });
      throw new UserError(`${title} failed: ${errorMessage(err)} — fix the cause and run the same command again: finished steps are skipped`, { cause: err, exitCode: 1 });
    }
  }
  return { ran, skipped };
}
