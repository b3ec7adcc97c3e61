import { stringify } from 'yaml';
import { ingressGateway, meshNamespaces } from './names.ts';
import { istiodReplicas, istiodResources, sidecarResources } from './resources.ts';
import { meshConfigTracing } from './telemetry.ts';
import { gatewayListenPort } from './traffic.ts';

/** The Istio release the layer installs; istioctl of the same release generates its manifests. */
export const istioRelease = '1.31.0';
export const istioHub = 'docker.io/istio';

/** The images Istio's manifests name (the proxy's is the Envoy sidecar and gateway, which cannot be built here). */
export const istioImages = {
  pilot: `${istioHub}/pilot:${istioRelease}`,
  installCni: `${istioHub}/install-cni:${istioRelease}`,
  proxy: `${istioHub}/proxyv2:${istioRelease}`,
} as const;

export interface IstioOperatorInput {
  readonly ingressNodePort: number;
}

/** The gateway's resources: one small replica, as a sidecar is sized. */
const gatewayResources = sidecarResources;

/**
 * The IstioOperator `istioctl manifest generate -f` turns into Istio's objects: the `minimal`
 * profile (CRDs and istiod) plus istio-cni in its own namespace and one ingress gateway on a fixed
 * NodePort, every part sized for a lab host and without autoscaling.
 */
export function renderIstioOperator(input: IstioOperatorInput): Record<string, unknown> {
  return {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    spec: {
      profile: 'minimal',
      hub: istioHub,
      tag: istioRelease,
      namespace: meshNamespaces.root,
      meshConfig: {
        ...meshConfigTracing(),
        // Envoy's access log stays off: traces and metrics are the lab's subject.
        accessLogFile: '',
      },
      components: {
        pilot: { enabled: true, k8s: { replicaCount: istiodReplicas, resources: istiodResources } },
        cni: { enabled: true, namespace: meshNamespaces.cni },
        ingressGateways: [
          {
            name: ingressGateway.name,
            enabled: true,
            k8s: {
              replicaCount: 1,
              resources: gatewayResources,
              service: { type: 'NodePort', ports: [{ name: 'http2', port: 80, targetPort: gatewayListenPort, nodePort: input.ingressNodePort, protocol: 'TCP' }] },
            },
          },
        ],
      },
      values: {
        global: { proxy: { resources: sidecarResources }, istioNamespace: meshNamespaces.root },
        pilot: { autoscaleEnabled: false, cni: { enabled: true } },
        cni: { excludeNamespaces: [meshNamespaces.root, meshNamespaces.cni, 'kube-system'] },
        gateways: { 'istio-ingressgateway': { autoscaleEnabled: false } },
        sidecarInjectorWebhook: { defaultTemplates: ['sidecar'] },
        // istiod-default-validator: validates every Istio resource, not only those labelled with a revision.
        defaultRevision: 'default',
      },
    },
  };
}

export function renderIstioOperatorYaml(input: IstioOperatorInput): string {
  return stringify(renderIstioOperator(input), { lineWidth: 0, aliasDuplicateObjects: false, version: '1.1' });
}
