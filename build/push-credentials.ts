/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import type { Readable } from 'node:stream';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import type { KubeClient } from '../core/kube/client.ts';
import { buildContainer, runBuildPod, type BuildPodResult } from './build-pod.ts';

/** Where a build pod finds its registry credentials: DOCKER_CONFIG points there (buildctl and kaniko read its config.json). */
export const pushCredentialsDir = '/tracelab/registry-auth';

/** The Secret a build pod's credentials travel in: named after the pod, in its namespace, one registry's entry only. */
export function renderPushSecret(pod: V1Pod, dockerConfigJson: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: pod.metadata?.name ?? '',
      namespace: pod.metadata?.namespace ?? '',
      labels: { 'app.kubernetes.io/managed-by': 'tracelab', 'tracelab.dev/build': pod.metadata?.labels?.['tracelab.dev/build'] ?? '' },
    },
    type: 'kubernetes.io/dockerconfigjson',
    immutable: true,
    stringData: { '.dockerconfigjson': dockerConfigJson },
  };
}

/**
 * The least file mode the build container's user can read the credentials with: root reads
 * 0400; a non-root user needs its group (fsGroup) or, without one, every user of the container.
 */
function credentialsMode(pod: V1Pod): number {
  const context = pod.spec?.securityContext;
  const container = pod.spec?.containers.find((c) => c.name === buildContainer)?.securityContext;
  const user = container?.runAsUser ?? context?.runAsUser;
  if (user === undefined || user === 0) return 0o400;
  return context?.fsGroup === undefined ? 0o444 : 0o440;
}

/** The build pod with its Secret mounted read-only and DOCKER_CONFIG pointing at it. */
export function withPushCredentials(pod: V1Pod, secretName: string): V1Pod {
  const copy: V1Pod = structuredClone(pod);
  const container = copy.spec?.containers.find((c) => c.name === buildContainer);
  if (copy.spec === undefined || container === undefined) throw new Error(`build pod ${pod.metadata?.name ?? ''} has no container '${buildContainer}' to give the credentials to`);
  container.env = [...(container.env ?? []), { name: 'DOCKER_CONFIG', value: pushCredentialsDir }];
  container.volumeMounts = [...(container.volumeMounts ?? []), { name: 'registry-auth', mountPath: pushCredentialsDir, readOnly: true }];
  copy.spec.volumes = [...(copy.spec.volumes ?? []), { name: 'registry-auth', secret: { secretName, defaultMode: credentialsMode(pod), items: [{ key: '.dockerconfigjson', path: 'config.json' }] } }];
  return copy;
}

/**
 * runBuildPod, with the push credentials (when there are some) in a Secret of the pod's own:
 * made before the pod, owned by it once it exists (so the garbage collector takes it should
 * tracelab die), and deleted with it whatever ends the build. Its contents are never printed.
 */
export async function runBuildPodWithCredentials(
  kube: KubeClient,
  pod: V1Pod,
  credentials: string | undefined,
  context: Readable,
  onLine: (line: string) => void,
  signal: AbortSignal,
): Promise<BuildPodResult> {
  if (credentials === undefined) return runBuildPod(kube, pod, context, onLine, signal);
  const secret = renderPushSecret(pod, credentials);
  const name = secret.metadata?.name ?? '';
  const namespace = secret.metadata?.namespace ?? '';
  const path = await kube.path({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  await kube.request('POST', await kube.path({ apiVersion: 'v1', kind: 'Secret', namespace }), { body: secret });
  try {
    return await runBuildPod(kube, withPushCredentials(pod, name), context, onLine, signal, async (created) => {
      const owner = { apiVersion: 'v1', kind: 'Pod', name, uid: created.metadata?.uid ?? '', blockOwnerDeletion: false };
      await kube.request('PATCH', path, { body: { metadata: { ownerReferences: [owner] } }, contentType: 'application/merge-patch+json' });
    });
  } finally {
    await kube.request('DELETE', path, { body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 } }).catch(() => undefined);
  }
}
