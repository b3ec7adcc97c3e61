/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { KubernetesObject, V1DaemonSet, V1Deployment, V1Namespace } from '@kubernetes/client-node';
import { renderNamespace } from '../monitoring/common.ts';
import { istioRelease } from './istio-operator.ts';
import { meshNamespaces } from './names.ts';
import { istioCniResources } from './resources.ts';

const partOf = 'tracelab-mesh';

/** `null` fields (istioctl writes some) dropped: the API server would drop them too, and a diff would see them change. */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, inner]) => inner !== null).map(([key, inner]) => [key, withoutNulls(inner)])) as T;
  }
  return value;
}

/** Istio's namespaces, which istioctl leaves to the installer: istiod and the gateway `restricted`, the CNI agent `privileged`. */
export function renderMeshNamespaces(): V1Namespace[] {
  const namespace = (name: string, enforce: 'restricted' | 'privileged'): V1Namespace => {
    const rendered = renderNamespace(name, enforce, partOf);
    // Warned at apply too; Istio's own namespaces are never meshed.
    Object.assign(rendered.metadata?.labels ?? {}, { 'pod-security.kubernetes.io/warn': 'restricted', 'istio-injection': 'disabled' });
    return rendered;
  };
  return [namespace(meshNamespaces.root, 'restricted'), namespace(meshNamespaces.cni, 'privileged')];
}

/** The chart's Helm labels say who rendered it; these objects are applied and owned by tracelab. Changes the labels given. */
function relabel(labels: Record<string, string> | undefined): void {
  if (labels === undefined) return;
  if (labels['app.kubernetes.io/managed-by'] === 'Helm') labels['app.kubernetes.io/managed-by'] = 'tracelab';
  // The charts inside istioctl carry the placeholder version 1.0.0.
  if ('app.kubernetes.io/version' in labels) labels['app.kubernetes.io/version'] = istioRelease;
  delete labels['helm.sh/chart'];
  delete labels['install.operator.istio.io/owning-resource'];
}

function isWorkload(object: KubernetesObject): object is V1Deployment | V1DaemonSet {
  return object.apiVersion === 'apps/v1' && (object.kind === 'Deployment' || object.kind === 'DaemonSet');
}

/**
 * Checks kube-score makes that Istio's workloads do not pass, on purpose (README, kube-score): pinned
 * images imported into air-gapped nodes, and Istio's own user 1337 (the CNI agent: root, to write
 * onto the node).
 */
const kubeScoreIgnores = ['container-image-pull-policy', 'container-security-context-user-group-id'];

/** Local disk per container: istiod's and the proxy's emptyDirs and logs, the CNI agent's logs. */
const ephemeralStorage: Readonly<Record<string, { request: string; limit: string }>> = {
  istiod: { request: '32Mi', limit: '256Mi' },
  'istio-ingressgateway': { request: '16Mi', limit: '128Mi' },
  'istio-cni-node': { request: '16Mi', limit: '64Mi' },
};

/**
 * istiod and the gateway pass Pod Security `restricted` once their pods ask for the runtime's
 * seccomp profile; the CNI agent comes with requests only and is bounded like every other
 * container of the lab, its root filesystem read-only; every container gets ephemeral-storage
 * bounds. Changes the workload given.
 */
function fitWorkload(workload: V1Deployment | V1DaemonSet): void {
  const spec = workload.spec?.template.spec;
  if (spec === undefined) return;
  const name = workload.metadata?.name ?? '';
  workload.metadata = Object.assign(workload.metadata ?? {}, { annotations: { ...workload.metadata?.annotations, 'kube-score/ignore': kubeScoreIgnores.join(',') } });
  if (workload.metadata.namespace === meshNamespaces.root) {
    spec.securityContext = Object.assign(spec.securityContext ?? {}, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  }
  for (const container of spec.containers) {
    if (workload.kind === 'DaemonSet') {
      container.resources = structuredClone(istioCniResources);
      container.securityContext = Object.assign(container.securityContext ?? {}, { readOnlyRootFilesystem: true });
    }
    const storage = ephemeralStorage[name];
    if (storage !== undefined) {
      container.resources = Object.assign(container.resources ?? {}, {
        requests: { ...container.resources?.requests, 'ephemeral-storage': storage.request },
        limits: { ...container.resources?.limits, 'ephemeral-storage': storage.limit },
      });
    }
  }
}

/**
 * A validating webhook starts with failurePolicy Ignore, which istiod turns to Fail once it serves:
 * once the configuration exists, the field is istiod's and a re-apply leaves it out rather than fight.
 */
function leaveFailurePolicyToIstiod(object: KubernetesObject & { webhooks?: { failurePolicy?: string }[] }): void {
  for (const webhook of object.webhooks ?? []) delete webhook.failurePolicy;
}

/** Istio's generated objects, fitted to the lab (deep copies; the input is left as it is), after its namespaces. */
export function renderIstio(generated: readonly KubernetesObject[], liveValidators: readonly string[] = []): KubernetesObject[] {
  return [
    ...renderMeshNamespaces(),
    ...generated.map((object) => {
      const fitted = withoutNulls(structuredClone(object));
      relabel(fitted.metadata?.labels);
      if (fitted.kind === 'ValidatingWebhookConfiguration' && liveValidators.includes(fitted.metadata?.name ?? '')) leaveFailurePolicyToIstiod(fitted);
      if (isWorkload(fitted)) {
        relabel(fitted.spec?.template.metadata?.labels);
        fitWorkload(fitted);
      }
      return fitted;
    }),
  ];
}
