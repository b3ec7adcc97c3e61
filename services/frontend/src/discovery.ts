import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Env } from '@tracelab/service-kit';

export type DiscoveryMode = 'dns' | 'env';

export interface DiscoveryReport {
  /** Which way the frontend reaches backend: the Service's DNS name, or the env vars kubelet injects. */
  mode: DiscoveryMode;
  backendUrl: string;
  dns: { hostname: string; addresses: string[] } | { hostname: string; error: string };
  serviceEnv: { BACKEND_SERVICE_HOST: string | null; BACKEND_SERVICE_PORT: string | null; url: string | null };
  /** True when both ways lead to the same address (the Service's ClusterIP in a cluster). */
  agree: boolean | null;
}

/** The URL kubelet's service env vars describe, if this pod started after the Service existed. */
export function urlFromServiceEnv(env: Env): string | undefined {
  const host = env.BACKEND_SERVICE_HOST;
  const port = env.BACKEND_SERVICE_PORT;
  if (!host || !port) return undefined;
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

export async function discover(mode: DiscoveryMode, backendUrl: URL, env: Env): Promise<DiscoveryReport> {
  const hostname = backendUrl.hostname.replace(/^\[|\]$/g, '');
  let dns: DiscoveryReport['dns'];
  try {
    const addresses = isIP(hostname) ? [hostname] : (await lookup(hostname, { all: true })).map((entry) => entry.address);
    dns = { hostname, addresses };
  } catch (err) {
    dns = { hostname, error: (err as { code?: string }).code ?? String(err) };
  }
  const envUrl = urlFromServiceEnv(env);
  const envHost = env.BACKEND_SERVICE_HOST ?? null;
  return {
    mode,
    backendUrl: backendUrl.origin,
    dns,
    serviceEnv: { BACKEND_SERVICE_HOST: envHost, BACKEND_SERVICE_PORT: env.BACKEND_SERVICE_PORT ?? null, url: envUrl ?? null },
    agree: envHost === null || !('addresses' in dns) ? null : dns.addresses.includes(envHost),
  };
}
