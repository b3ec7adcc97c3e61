import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import { cacheBin } from '../bootstrap/artifacts/sources.ts';
import type { Layer } from '../core/layer.ts';
import { faultAnnotation } from './faults.ts';
import { renderIstio } from './istio.ts';
import { findIstioctl, generateIstioManifests } from './istioctl.ts';
import { meshNamespaces } from './names.ts';
import { meshDefaults, parseFault, parseMeshOptions, type MeshOptions } from './options.ts';
import { renderAuthorizationPolicies, renderPeerAuthentication } from './security.ts';
import { renderTelemetry } from './telemetry.ts';
import { renderBackendTraffic, renderIngress } from './traffic.ts';
import { renderKiali } from './kiali.ts';
import { renderMeshNetworkPolicies } from './network-policies.ts';
import { removeIstioLeftovers } from './leftovers.ts';

/**
 * Istio's objects as istioctl generated them, made to fit the lab, then tracelab's own: tracing
 * to Jaeger, strict mTLS, who may call whom, the ingress, backend's traffic policy and fault.
 */
export function renderMesh(options: MeshOptions): KubernetesObject[] {
  if (options.istio === undefined) throw new Error('mesh: render() before prepare(): Istio manifests not generated');
  return [
    ...renderIstio(options.istio, options.liveValidators),
    renderTelemetry(options.sampling ?? meshDefaults.sampling),
    renderPeerAuthentication(),
    ...renderAuthorizationPolicies(options.demoNamespace),
    ...renderIngress(options.demoNamespace),
    ...renderBackendTraffic(options.demoNamespace, options.fault ?? meshDefaults.fault),
    ...(options.kiali ? renderKiali() : []),
    ...renderMeshNetworkPolicies({ demoNamespace: options.demoNamespace, kiali: options.kiali }),
  ];
}

export const meshLayer: Layer<MeshOptions> = {
  name: 'mesh',
  description: 'Istio: istiod, istio-cni, an ingress gateway, OTLP tracing to Jaeger, strict mTLS, frontend-only access to backend, fault presets',
  namespaces: [meshNamespaces.root, meshNamespaces.cni],
  installedByBootstrap: true,
  // istiod's leader leases, CA secret and certificate copies, and the CNI agent's own records.
  programs: ['pilot-discovery', 'install-cni'],
  parseOptions: parseMeshOptions,
  async prepare(options, { componentCache, searchPath, output }) {
    const istioctl = await findIstioctl({ explicit: options.istioctl, artifacts: options.artifacts, cacheBin: cacheBin(componentCache), path: searchPath });
    const istio = await output.step('Generate Istio manifests (istioctl manifest generate, offline)', async () => {
      output.detail(`with ${istioctl}`);
      return generateIstioManifests(istioctl, { ingressNodePort: options.ingressNodePort });
    });
    return { ...options, istio };
  },
  // Sampling and the fault preset stay as they are live unless given, and istiod keeps the
  // failure policy it set on its validators: a re-run changes nothing.
  async adaptToCluster(kube, options) {
    const validators = (options.istio ?? []).filter((object) => object.kind === 'ValidatingWebhookConfiguration').map((object) => object.metadata?.name ?? '');
    const live = await Promise.all(validators.map((name) => kube.get({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', name })));
    const liveValidators = validators.filter((_, index) => live[index] !== undefined);
    // Before the first install Istio's kinds are not served: nothing live to keep.
    const [telemetry, backend] = await Promise.all([
      kube.get<KubernetesObject & { spec?: { tracing?: { randomSamplingPercentage?: number }[] } }>({ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', name: 'mesh-default', namespace: meshNamespaces.root }).catch(() => undefined),
      kube.get({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', name: 'backend', namespace: meshNamespaces.root }).catch(() => undefined),
    ]);
    const liveSampling = telemetry?.spec?.tracing?.[0]?.randomSamplingPercentage;
    const liveFault = backend?.metadata?.annotations?.[faultAnnotation];
    return {
      ...options,
      liveValidators,
      sampling: options.sampling ?? (typeof liveSampling === 'number' ? liveSampling : undefined),
      fault: options.fault ?? (liveFault === undefined ? undefined : tryFault(liveFault)),
    };
  },
  render: renderMesh,
  // Where a person opens the demo through the mesh: any node's address on the gateway's NodePort.
  async afterApply(kube, options, { output }) {
    const nodes = (await kube.list<V1Node>('v1', 'Node')).items;
    const address = nodes.flatMap((node) => node.status?.addresses ?? []).find((entry) => entry.type === 'InternalIP')?.address;
    const host = address === undefined ? '<node address>' : address.includes(':') ? `[${address}]` : address;
    output.info(`frontend through the mesh's ingress: http://${host}:${String(options.ingressNodePort)}/ (any node's address; once the demo runs with its sidecars)`);
  },
  afterTeardown: removeIstioLeftovers,
};

function tryFault(text: string): MeshOptions['fault'] {
  try {
    return parseFault(text);
  } catch {
    return undefined;
  }
}
