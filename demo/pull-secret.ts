import type { V1Secret } from '@kubernetes/client-node';
import { UserError } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { explainKubeError } from '../core/kube/report.ts';

export const dockerConfigJsonType = 'kubernetes.io/dockerconfigjson';

/** How a person makes the Secret, for the one-line errors. */
function howToMake(namespace: string, name: string): string {
  return `kubectl -n ${namespace} create secret docker-registry ${name} --docker-server=HOST --docker-username=USER --docker-password=PASSWORD`;
}

/**
 * The `.dockerconfigjson` of `--pull-secret NAME`: the Secret must exist in the demo's namespace
 * and be of type kubernetes.io/dockerconfigjson, or this is one line and nothing is applied.
 * Reads only; its contents are never printed.
 */
export async function readPullSecret(kube: KubeClient, namespace: string, name: string): Promise<string> {
  let secret: V1Secret | undefined;
  try {
    secret = await kube.get<V1Secret>({ apiVersion: 'v1', kind: 'Secret', namespace, name });
  } catch (err) {
    throw explainKubeError('read', { apiVersion: 'v1', kind: 'Secret', namespace, name }, err);
  }
  if (secret === undefined) {
    throw new UserError(
      `--pull-secret '${name}': namespace ${namespace} has no Secret ${name} — make it (and the namespace, which the first deploy then takes over with --adopt): ${howToMake(namespace, name)}`,
    );
  }
  if (secret.type !== dockerConfigJsonType) {
    throw new UserError(`--pull-secret '${name}': Secret ${namespace}/${name} is of type ${secret.type ?? 'Opaque'}, not ${dockerConfigJsonType} — make one of that type: ${howToMake(namespace, name)}`);
  }
  const encoded = secret.data?.['.dockerconfigjson'];
  const text = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8');
  let auths: unknown;
  try {
    auths = (JSON.parse(text) as { auths?: unknown }).auths;
  } catch {
    auths = undefined;
  }
  if (typeof auths !== 'object' || auths === null) {
    throw new UserError(`--pull-secret '${name}': Secret ${namespace}/${name} has no .dockerconfigjson with an 'auths' object — make it again: ${howToMake(namespace, name)}`);
  }
  return text;
}
