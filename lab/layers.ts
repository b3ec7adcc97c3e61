import type { KubernetesObject } from '@kubernetes/client-node';
import { findMembers, type MemberRef } from '../core/kube/apply.ts';
import { applySetNamespace, applySetParentName, readRecord, type ApplySetRecord } from '../core/kube/applyset.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { describeRef } from '../core/kube/objects.ts';
import { readinessOf } from '../core/kube/readiness.ts';
import { explainNotReady } from '../core/kube/wait.ts';

export type LayerState = 'installed' | 'missing' | 'degraded';

export interface LayerStatus {
  readonly name: string;
  readonly state: LayerState;
  /** Objects the layer's ApplySet holds live. */
  readonly objects: number;
  /** The namespaces its record names (the demo's namespace, for `verify`). */
  readonly namespaces: readonly string[];
  /** Why it is degraded: one line per workload or API that is not serving. */
  readonly reasons: readonly string[];
}

/** The kinds whose availability says whether a layer serves; the rest only exist. */
const servingKinds = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'APIService']);

/** The layer's ApplySet record, or undefined when the layer was never applied (or torn down). */
export async function readLayerRecord(kube: KubeClient, layer: string): Promise<ApplySetRecord | undefined> {
  const parent = await kube.get({ apiVersion: 'v1', kind: 'ConfigMap', name: applySetParentName(layer), namespace: applySetNamespace });
  return parent === undefined ? undefined : readRecord(parent);
}

/**
 * installed: its ApplySet record exists and every workload and APIService it applied is available;
 * degraded: one is not (or is scaled to zero), with the reason; missing: no record.
 */
export async function layerStatus(kube: KubeClient, layer: string): Promise<LayerStatus> {
  const record = await readLayerRecord(kube, layer);
  if (record === undefined) return { name: layer, state: 'missing', objects: 0, namespaces: [], reasons: [] };
  const members = await findMembers(kube, layer, record, () => true);
  const reasons: string[] = [];
  for (const member of members.filter((ref) => servingKinds.has(ref.kind))) {
    const reason = await notServing(kube, member);
    if (reason !== undefined) reasons.push(reason);
  }
  return { name: layer, state: reasons.length === 0 ? 'installed' : 'degraded', objects: members.length, namespaces: record.namespaces, reasons };
}

async function notServing(kube: KubeClient, ref: MemberRef): Promise<string | undefined> {
  const live = await kube.get<KubernetesObject & { spec?: { replicas?: number } }>(ref);
  if (live === undefined) return `${describeRef(ref)}: gone since it was listed`;
  // A Deployment scaled to zero reports itself Available, yet serves nothing.
  if ((ref.kind === 'Deployment' || ref.kind === 'StatefulSet') && live.spec?.replicas === 0) return `${describeRef(ref)}: scaled to 0 replicas`;
  const readiness = readinessOf(live);
  if (readiness.ready) return undefined;
  return explainNotReady(kube, live, readiness);
}
