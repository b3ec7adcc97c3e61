import { UserError } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { isNotFound } from '../core/kube/errors.ts';
import { explainKubeError } from '../core/kube/report.ts';
import { headlampNamespace, headlampViewer } from './address.ts';

/** The API server refuses TokenRequests shorter than 10 minutes; a sign-in token lives at most a day. */
export const tokenTtlBounds = { minSeconds: 600, maxSeconds: 86_400 } as const;

export interface ViewerToken {
  readonly token: string;
  /** When the API server stops accepting it (it may shorten what was asked for). */
  readonly expires: string;
}

interface TokenRequest {
  status?: { token?: string; expirationTimestamp?: string };
}

/**
 * A short-lived token of the headlamp-viewer ServiceAccount from the TokenRequest API: nothing is
 * stored in the cluster (no Secret), and it stops working when it expires or the account is deleted.
 */
export async function requestViewerToken(kube: KubeClient, ttlSeconds: number): Promise<ViewerToken> {
  const path = `/api/v1/namespaces/${headlampNamespace}/serviceaccounts/${headlampViewer}/token`;
  let answer: TokenRequest;
  try {
    answer = await kube.request<TokenRequest>('POST', path, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: ttlSeconds } },
    });
  } catch (err) {
    if (isNotFound(err)) throw new UserError(`ServiceAccount ${headlampNamespace}/${headlampViewer} does not exist: install Headlamp with \`tracelab ui --headlamp\``, { cause: err });
    throw explainKubeError('request a token for', { apiVersion: 'v1', kind: 'ServiceAccount', name: headlampViewer, namespace: headlampNamespace }, err);
  }
  const token = answer.status?.token;
  if (token === undefined || token === '') throw new Error(`the API server answered the TokenRequest for ${headlampNamespace}/${headlampViewer} without a token`);
  return { token, expires: answer.status?.expirationTimestamp ?? '' };
}
