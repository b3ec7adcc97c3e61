import type { Layer } from '../core/layer.ts';
import { demoDefaults, parseDemoOptions, type DemoOptions } from './options.ts';
import { readPullSecret } from './pull-secret.ts';
import { renderDemo } from './render.ts';

export const demoLayer: Layer<DemoOptions> = {
  name: 'demo',
  description: 'the instrumented frontend and backend, hardened, autoscaled, exporting traces to Jaeger',
  namespaces: [demoDefaults.namespace],
  parseOptions: parseDemoOptions,
  // A pull secret that is not there, or of another type, stops the run before anything is applied.
  async adaptToCluster(kube, options) {
    if (options.pullSecret !== undefined) await readPullSecret(kube, options.namespace, options.pullSecret);
    return options;
  },
  render: renderDemo,
};
