import { createHash } from 'node:crypto';
import type { KubeClient } from '../core/kube/client.ts';
import { isNotFound } from '../core/kube/errors.ts';
import { registryNamespace, registryPort } from '../registry/address.ts';
import { manifestTypes } from './registry-client.ts';

/** The lab registry's HTTP API through the API server's service proxy: no port-forward, no route to the nodes needed. */
export function registryApiPath(path: string): string {
  return `/api/v1/namespaces/${registryNamespace}/services/http:registry:${String(registryPort)}/proxy${path}`;
}

/** The digest of a tag in the lab registry, or undefined when the registry has no such tag. */
export async function labManifestDigest(kube: KubeClient, repository: string, tag: string): Promise<string | undefined> {
  try {
    const body = await kube.request<string>('GET', registryApiPath(`/v2/${repository}/manifests/${tag}`), { responseType: 'text', accept: manifestTypes });
    return `sha256:${createHash('sha256').update(body, 'utf8').digest('hex')}`;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
