import type { KubernetesObject } from '@kubernetes/client-node';
import { atAutoscalerMax, containerTotals, layerFootprint, scaleTotals, type LayerFootprint } from '../core/footprint.ts';
import { UserError } from '../core/errors.ts';
import { preparedOptions, type Layer, type PrepareContext } from '../core/layer.ts';
import { istiodReplicas, istiodResources, meshedLayers, sidecarResources } from '../mesh/resources.ts';

/** Options that make a layer renderable for counting only (the demo needs image references). */
export const footprintLayerOptions: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  demo: { images: 'frontend=tracelab/frontend:footprint,backend=tracelab/backend:footprint' },
};

/**
 * The lab's footprint from the rendered manifests: every layer of the registry at its default
 * options (the mesh's as its istioctl generates them), then one sidecar per pod of a meshed layer —
 * sidecars are added at admission, so they are counted from the sizes the mesh asks its injector for.
 * Without istioctl the mesh's row is the estimate of mesh/resources.ts, and says so.
 */
export async function labFootprint(layers: readonly Layer<unknown>[], options: { nodes: number; atAutoscalerMax?: boolean }, context: PrepareContext): Promise<LayerFootprint[]> {
  const footprints: LayerFootprint[] = [];
  for (const layer of layers) {
    let objects: KubernetesObject[];
    try {
      objects = layer.render(await preparedOptions(layer, footprintLayerOptions[layer.name] ?? {}, context));
    } catch (err) {
      if (!(err instanceof UserError) || layer.name !== 'mesh') throw err;
      footprints.push(estimatedIstiod(err.message));
      continue;
    }
    footprints.push(layerFootprint(layer.name, options.atAutoscalerMax === true ? atAutoscalerMax(objects) : objects, options));
  }
  const meshedPods = footprints.filter((footprint) => meshedLayers.includes(footprint.layer)).reduce((sum, footprint) => sum + footprint.pods, 0);
  return [...footprints, sidecarsFootprint(meshedPods)];
}

export function sidecarsFootprint(meshedPods: number): LayerFootprint {
  return { layer: `mesh sidecars (${meshedPods})`, pods: 0, totals: scaleTotals(containerTotals(sidecarResources), meshedPods), unbounded: [] };
}

function estimatedIstiod(reason: string): LayerFootprint {
  return { layer: `mesh (istiod only, estimated: ${reason.split(':')[0] ?? reason})`, pods: istiodReplicas, totals: scaleTotals(containerTotals(istiodResources), istiodReplicas), unbounded: [] };
}
