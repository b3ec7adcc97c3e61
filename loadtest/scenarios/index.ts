import type { Scenario } from '../scenario.ts';
import { ramp } from './ramp.ts';
import { smoke } from './smoke.ts';
import { soak } from './soak.ts';
import { spike } from './spike.ts';

/** Every scenario `tracelab loadtest` runs; a new one is a file in this folder and one line here. */
export const scenarios: readonly Scenario[] = [
  smoke, // light and short: it works
  ramp, // CPU up and down: the autoscalers follow
  spike, // a sudden burst and back
  soak, // steady for a few minutes
];
