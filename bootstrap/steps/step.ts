import type { Output } from '../../core/output.ts';
import type { HostFacts } from '../host-facts.ts';
import type { HostAccess } from '../host-access.ts';

/** What the standalone lab is, decided before any step runs (validated input, no host probing). */
export interface StandaloneLab {
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  readonly kubernetesVersion: string;
}

/** What every step receives; facts are read by preflight, the first step. */
export interface BootstrapContext {
  readonly host: HostAccess;
  readonly lab: StandaloneLab;
  readonly output: Output;
  readonly dryRun: boolean;
  facts: HostFacts | undefined;
}

/** One step of the bootstrap, kind-style: a title, whether it is done already, and the work. */
export interface BootstrapStep {
  readonly title: string;
  /** True when the host already is as the step would leave it: the step is skipped. */
  isDone(ctx: BootstrapContext): Promise<boolean>;
  run(ctx: BootstrapContext): Promise<void>;
}

export function factsOf(ctx: BootstrapContext): HostFacts {
  if (ctx.facts === undefined) throw new Error('host facts are read by the preflight step, which must run first');
  return ctx.facts;
}
