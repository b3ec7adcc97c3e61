import { applySetNamespace, applySetParentName } from '../core/kube/applyset.ts';
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
  // With the mesh installed, the pods are rolled once to get their sidecars (and once more when it goes).
  async adaptToCluster(kube, options) {
    if (options.pullSecret !== undefined) await readPullSecret(kube, options.namespace, options.pullSecret);
    const mesh = await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: applySetParentName('mesh'), namespace: applySetNamespace });
    return { ...options, meshed: mesh !== undefined };
  },
  render: renderDemo,
};
