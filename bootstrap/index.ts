import { hostPrep } from './steps/host-prep.ts';
import { preflight } from './steps/preflight.ts';
import type { BootstrapStep } from './steps/step.ts';

/** A standalone lab's steps, in order; a re-run skips what each finds done. */
export const standaloneSteps: readonly BootstrapStep[] = [
  preflight, // OS, CPUs, memory, swap, ports, cgroup version, clock, ip_forward, modules, oom_score_adj
  hostPrep, // kernel modules, sysctls, swap off — persistently
];
