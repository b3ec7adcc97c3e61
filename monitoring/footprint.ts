import type { KubernetesObject } from '@kubernetes/client-node';
import { addTotals, atAutoscalerMax, containerTotals, layerFootprint, scaleTotals, type LayerFootprint } from '../core/footprint.ts';
import type { Layer } from '../core/layer.ts';
import { istiodReplicas, istiodResources, meshedLayers, sidecarResources } from '../mesh/resources.ts';

/** Options that make a layer renderable for counting only (the demo needs image references). */
export const footprintLayerOptions: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  demo: { images: 'frontend=tracelab/frontend:footprint,backend=tracelab/backend:footprint' },
};

/**
 * The lab's footprint from the rendered manifests: every layer of the registry at its default
 * options, then the mesh — istiod once plus one sidecar per pod of a meshed layer.
 */
export function labFootprint(layers: readonly Layer<unknown>[], options: { nodes: number; atAutoscalerMax?: boolean }): LayerFootprint[] {
  const rendered: { name: string; objects: KubernetesObject[] }[] = layers.map((layer) => {
    const objects = layer.render(layer.parseOptions(footprintLayerOptions[layer.name] ?? {}));
    return { name: layer.name, objects: options.atAutoscalerMax === true ? atAutoscalerMax(objects) : objects };
  });
  const footprints = rendered.map(({ name, objects }) => layerFootprint(name, objects, options));
  const meshedPods = footprints.filter((footprint) => meshedLayers.includes(footprint.layer)).reduce((sum, footprint) => sum + footprint.pods, 0);
  return [...footprints, meshFootprint(meshedPods)];
}

export function meshFootprint(meshedPods: number): LayerFootprint {
  const istiod = scaleTotals(containerTotals(istiodResources), istiodReplicas);
  const sidecars = scaleTotals(containerTotals(sidecarResources), meshedPods);
  return { layer: `mesh (istiod + ${meshedPods} sidecars)`, pods: istiodReplicas, totals: addTotals(istiod, sidecars), unbounded: [] };
}
