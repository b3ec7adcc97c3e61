import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { UserError } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { explainKubeError } from '../core/kube/report.ts';
import { grafanaAdminSecret } from './grafana.ts';

/** Its own field manager: the layer's re-applies never own, change or remove the password. */
export const passwordFieldManager = 'tracelab-grafana-admin';
export const grafanaAdminUser = 'admin';

const secretRef = { apiVersion: 'v1', kind: 'Secret', name: grafanaAdminSecret.name, namespace: grafanaAdminSecret.namespace } as const;

/** API failures as the deploy engine reports them: one line naming the Secret, the cause and the fix. */
async function onSecret<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw explainKubeError(operation, secretRef, err);
  }
}

/** 32 URL-safe characters from 24 random bytes. */
export function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

function decoded(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined || value === '' ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/**
 * Fills the rendered (empty) Grafana admin Secret with a generated password, once. Returns
 * whether it generated one. The password is never printed here.
 */
export async function ensureGrafanaAdminPassword(kube: KubeClient, options: { dryRun: boolean }): Promise<boolean> {
  const live = await onSecret('read', () => kube.get<V1Secret>(secretRef));
  if (live === undefined) {
    if (options.dryRun) return true;
    throw new UserError(`Secret ${secretRef.namespace}/${secretRef.name} does not exist: apply the monitoring layer first (tracelab deploy monitoring)`);
  }
  if (decoded(live, grafanaAdminSecret.passwordKey) !== undefined) return false;
  if (options.dryRun) return true;
  await onSecret('fill in the generated password of', async () => kube.request('PATCH', await kube.path(secretRef), {
    query: { fieldManager: passwordFieldManager, fieldValidation: 'Strict' },
    contentType: 'application/apply-patch+yaml',
    body: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretRef.name, namespace: secretRef.namespace },
      data: {
        [grafanaAdminSecret.userKey]: Buffer.from(grafanaAdminUser).toString('base64'),
        [grafanaAdminSecret.passwordKey]: Buffer.from(generatePassword()).toString('base64'),
      },
    },
  }));
  return true;
}

export async function readGrafanaAdminPassword(kube: KubeClient): Promise<{ user: string; password: string }> {
  const live = await onSecret('read', () => kube.get<V1Secret>(secretRef));
  const password = decoded(live, grafanaAdminSecret.passwordKey);
  if (password === undefined) {
    throw new UserError(`no Grafana admin password in Secret ${secretRef.namespace}/${secretRef.name}: install monitoring first (tracelab deploy monitoring)`);
  }
  return { user: decoded(live, grafanaAdminSecret.userKey) ?? grafanaAdminUser, password };
}
