/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { KubernetesObject } from '@kubernetes/client-node';
import { ingressGateway, meshNamespaces, principalOf } from './names.ts';

type IstioObject = KubernetesObject & { spec: unknown };

/** Mesh-wide: a proxy accepts only mutual TLS from other proxies; plaintext callers are refused. */
export function renderPeerAuthentication(): IstioObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: meshNamespaces.root },
    spec: { mtls: { mode: 'STRICT' } },
  };
}

/** The demo's workloads, by the labels demo/render.ts gives them. */
function demoWorkload(app: 'frontend' | 'backend'): Record<string, string> {
  return { app, 'app.kubernetes.io/part-of': 'tracelab-demo' };
}

/**
 * Who may call whom: backend only from frontend's ServiceAccount, frontend only from the ingress
 * gateway. In the root namespace so the layer does not depend on the demo being there first; the
 * selectors match only the demo's pods. Any other caller gets 403 from the callee's proxy.
 */
export function renderAuthorizationPolicies(demoNamespace: string): IstioObject[] {
  const allow = (name: string, app: 'frontend' | 'backend', principal: string): IstioObject => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace: meshNamespaces.root },
    spec: { selector: { matchLabels: demoWorkload(app) }, action: 'ALLOW', rules: [{ from: [{ source: { principals: [principal] } }] }] },
  });
  return [
    allow('backend-from-frontend', 'backend', principalOf(demoNamespace, 'frontend')),
    allow('frontend-from-ingress', 'frontend', principalOf(meshNamespaces.root, ingressGateway.serviceAccount)),
  ];
}
