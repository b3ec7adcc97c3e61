import type { KubernetesObject } from '@kubernetes/client-node';
import { UserError } from '../core/errors.ts';
import { demoDefaults } from '../demo/options.ts';
import { faultPresets, type FaultPreset } from './faults.ts';

export interface MeshOptions {
  /** Percent of requests the proxies trace; undefined keeps the live value (first install: 100). */
  readonly sampling: number | undefined;
  /** The fault injected into calls to backend; undefined keeps the live one (first install: off). */
  readonly fault: FaultPreset | undefined;
  /** The NodePort the ingress gateway listens on, on every node. */
  readonly ingressNodePort: number;
  /** Where the demo runs: the policies and routes name its ServiceAccounts and Services. */
  readonly demoNamespace: string;
  /** The istioctl to generate Istio's manifests with; undefined: the artifacts', the cache's, then PATH's. */
  readonly istioctl: string | undefined;
  /** An artifacts directory (`tracelab artifacts build`) whose bin/istioctl to use. */
  readonly artifacts: string | undefined;
  /** Install Kiali (anonymous, view-only; reached through `npm run ui`). */
  readonly kiali: boolean;
  /**
   * Validating webhook configurations that exist already: istiod has taken over their failure
   * policy (Ignore until it serves, then Fail), so the render leaves that field to it.
   */
  readonly liveValidators: readonly string[];
  /** Istio's own objects as istioctl generated them (CRDs, istiod, istio-cni, the gateway): filled by the layer's prepare. */
  readonly istio: readonly KubernetesObject[] | undefined;
}

export const meshDefaults = { sampling: 100, fault: 'off', ingressNodePort: 30080 } as const satisfies { sampling: number; fault: FaultPreset; ingressNodePort: number };

/** The flags `tracelab up mesh` takes, as raw option keys. */
export const meshOptionKeys = ['sampling', 'fault', 'ingress-node-port', 'demo-namespace', 'kiali', 'istioctl', 'artifacts'] as const;

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function parseFault(text: string): FaultPreset {
  if (!(faultPresets as readonly string[]).includes(text)) throw new UserError(`unknown fault preset '${text}': choose one of ${faultPresets.join(', ')}`);
  return text as FaultPreset;
}

export function parseMeshOptions(raw: Readonly<Record<string, string | undefined>>): MeshOptions {
  for (const key of Object.keys(raw)) {
    if (!(meshOptionKeys as readonly string[]).includes(key)) throw new UserError(`unknown option --${key} for the mesh layer: it takes ${meshOptionKeys.map((name) => `--${name}`).join(', ')}`);
  }
  let sampling: number | undefined;
  if (raw.sampling !== undefined) {
    sampling = Number(raw.sampling);
    if (raw.sampling.trim() === '' || !Number.isFinite(sampling) || sampling < 0 || sampling > 100) {
      throw new UserError(`--sampling '${raw.sampling}' is not a percentage from 0 to 100: pass e.g. --sampling 100 (every request traced) or --sampling 10`);
    }
  }
  const portText = raw['ingress-node-port'] ?? String(meshDefaults.ingressNodePort);
  const ingressNodePort = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(ingressNodePort >= 30000 && ingressNodePort <= 32767)) {
    throw new UserError(`--ingress-node-port '${portText}' is outside the NodePort range 30000-32767: pass e.g. --ingress-node-port ${String(meshDefaults.ingressNodePort)}`);
  }
  const demoNamespace = raw['demo-namespace'] ?? demoDefaults.namespace;
  if (!dnsLabel.test(demoNamespace)) throw new UserError(`--demo-namespace '${demoNamespace}' is not a namespace name (lowercase letters, digits and '-')`);
  const kialiText = raw.kiali ?? 'false';
  if (kialiText !== 'true' && kialiText !== 'false') throw new UserError(`--kiali '${kialiText}' is not true or false: pass --kiali true to install Kiali`);
  for (const key of ['istioctl', 'artifacts'] as const) {
    if (raw[key] === '') throw new UserError(`--${key} is empty: pass a path`);
  }
  return {
    sampling,
    fault: raw.fault === undefined ? undefined : parseFault(raw.fault),
    ingressNodePort,
    demoNamespace,
    kiali: kialiText === 'true',
    liveValidators: [],
    istioctl: raw.istioctl,
    artifacts: raw.artifacts,
    istio: undefined,
  };
}
