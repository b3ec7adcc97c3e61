import type { Output } from './output.ts';

/** One step of a pipeline: a title for the progress line and the work. */
export interface Step<Ctx> {
  readonly title: string;
  run(ctx: Ctx): Promise<void>;
}

/** Runs steps in order, each as one progress line; stops at the first failure. */
export async function runSteps<Ctx>(steps: readonly Step<Ctx>[], ctx: Ctx, output: Output): Promise<void> {
  for (const step of steps) {
    await output.step(step.title, () => step.run(ctx));
  }
}
