/**
 * The Istio resource settings the mesh layer applies (IstioOperator `values.pilot.resources` and
 * `values.global.proxy.resources`). They live here so `tracelab footprint` can count the mesh
 * before it is rendered: istiod once, one sidecar per pod of a meshed layer. Upstream defaults
 * (istiod 500m/2Gi, sidecar 100m/128Mi) would take a third of the lab's budget on their own.
 */
export interface ContainerResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

export const istiodResources: ContainerResources = {
  requests: { cpu: '250m', memory: '512Mi' },
  limits: { cpu: '1', memory: '1Gi' },
};

export const istiodReplicas = 1;

/** Per meshed pod. istio-init runs before the app with the same settings, so it adds nothing to the pod's effective request. */
export const sidecarResources: ContainerResources = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '500m', memory: '256Mi' },
};

/** Layers whose namespaces carry `istio-injection=enabled`; the monitoring namespaces are not meshed. */
export const meshedLayers: readonly string[] = ['demo'];

/** The istio-cni node agent, once per node (upstream sets requests only). */
export const istioCniResources: ContainerResources = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '200m', memory: '256Mi' },
};

/** Kiali (`--kiali true`), one replica. */
export const kialiResources: ContainerResources = {
  requests: { cpu: '10m', memory: '64Mi' },
  limits: { cpu: '500m', memory: '256Mi' },
};
