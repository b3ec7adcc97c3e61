import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from '../core/kube/client.ts';
import { ownershipOf } from '../core/kube/ownership.ts';
import { explainKubeError } from '../core/kube/report.ts';
import { describeRef } from '../core/kube/objects.ts';
import { namespaces } from './common.ts';

const candidates = [
  { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', name: 'v1beta1.metrics.k8s.io' },
  { apiVersion: 'apps/v1', kind: 'Deployment', name: 'metrics-server', namespace: namespaces.metricsServer },
] as const;

/**
 * A metrics-server that another tool installed (kubeadm add-on manifests, Helm, a managed
 * cluster): the resource-metrics APIService or the metrics-server Deployment, existing and not
 * applied by the monitoring layer. Returns how it was recognised, or undefined.
 */
export async function findForeignMetricsServer(kube: KubeClient, layer: string): Promise<string | undefined> {
  for (const ref of candidates) {
    let live: KubernetesObject | undefined;
    try {
      live = await kube.get(ref);
    } catch (err) {
      throw explainKubeError('look for an installed metrics-server: read', ref, err);
    }
    if (live !== undefined && ownershipOf(live, layer).kind !== 'ours') return describeRef(ref);
  }
  return undefined;
}
