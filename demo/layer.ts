import type { Layer } from '../core/layer.ts';
import { demoDefaults, parseDemoOptions, type DemoOptions } from './options.ts';
import { renderDemo } from './render.ts';

export const demoLayer: Layer<DemoOptions> = {
  name: 'demo',
  description: 'the instrumented frontend and backend, hardened, autoscaled, exporting traces to Jaeger',
  namespaces: [demoDefaults.namespace],
  parseOptions: parseDemoOptions,
  render: renderDemo,
};
