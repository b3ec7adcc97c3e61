import { UserError } from '../core/errors.ts';

/** A user name and password (or access token) for one registry. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

interface AuthEntry {
  readonly auth?: unknown;
  readonly username?: unknown;
  readonly password?: unknown;
  readonly identitytoken?: unknown;
  readonly registrytoken?: unknown;
}

/** The hosts a `.dockerconfigjson`'s `auths` key may name a registry by: `https://host/v1/`, `host`, … */
function hostOfKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

const dockerHubHosts = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The credentials a `.dockerconfigjson` (what `kubectl create secret docker-registry` writes)
 * holds for a registry host, or undefined when it has none. `source` names it in the one-line
 * errors; the credentials themselves never appear in one.
 */
export function credentialsFor(dockerConfigJson: string, host: string, source: string): RegistryCredentials | undefined {
  let config: { auths?: unknown } | null;
  try {
    config = JSON.parse(dockerConfigJson) as { auths?: unknown } | null;
  } catch {
    throw new UserError(`${source} is not JSON: make it again with kubectl create secret docker-registry`);
  }
  const auths = (typeof config?.auths === 'object' && config.auths !== null ? config.auths : {}) as Record<string, AuthEntry | undefined>;
  const wanted = (key: string): boolean => {
    const keyHost = hostOfKey(key);
    return keyHost === host || (dockerHubHosts.has(keyHost) && dockerHubHosts.has(host));
  };
  const key = Object.keys(auths).find(wanted);
  if (key === undefined) return undefined;
  const entry = auths[key] ?? {};
  if (typeof entry.username === 'string' && typeof entry.password === 'string' && entry.username !== '') return { username: entry.username, password: entry.password };
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    throw new UserError(`${source}: the entry for ${host} has an 'auth' that is not base64 of user:password — make it again with kubectl create secret docker-registry`);
  }
  if (entry.identitytoken !== undefined || entry.registrytoken !== undefined) {
    throw new UserError(`${source}: the entry for ${host} holds an identity or registry token, which tracelab does not exchange — use a user name and password (or an access token as the password): kubectl create secret docker-registry`);
  }
  throw new UserError(`${source}: the entry for ${host} has no user name and password — make it again with kubectl create secret docker-registry`);
}

/** The hosts a `.dockerconfigjson` has credentials for, for messages (never the credentials). */
export function hostsIn(dockerConfigJson: string): string[] {
  try {
    const config = JSON.parse(dockerConfigJson) as { auths?: Record<string, unknown> };
    return Object.keys(config.auths ?? {}).map(hostOfKey);
  } catch {
    return [];
  }
}

/** A `.dockerconfigjson` with one registry's credentials only: what build pods get. */
export function dockerConfigFor(host: string, credentials: RegistryCredentials): string {
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64');
  // Docker Hub's credentials go under the key docker's own tools look for.
  return JSON.stringify({ auths: { [dockerHubHosts.has(host) ? 'https://index.docker.io/v1/' : host]: { auth } } });
}
