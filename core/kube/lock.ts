import { hostname, userInfo } from 'node:os';
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';
import { UserError, exitCodes } from '../errors.ts';
import { applySetNamespace, applySetParentName } from './applyset.ts';
import type { KubeClient } from './client.ts';
import { KubeApiError } from './errors.ts';
import { explainKubeError } from './report.ts';

const leaseDurationSeconds = 30;
const renewEveryMs = 10_000;

interface Lease extends KubernetesObject {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string };
}

export interface LayerLock {
  release(): Promise<void>;
}

/** `root@lab1 pid 4242: up demo` — who holds the lock, as the next run names it. */
export function holderIdentity(command: string): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): keep 'unknown'
  }
  return `${user}@${hostname()} pid ${process.pid}: ${command}`;
}

/** When the lease ends unless renewed, in epoch ms; 0 when it holds no renew time. */
export function leaseExpiry(lease: Lease): number {
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '');
  if (Number.isNaN(renewed)) return 0;
  return renewed + (lease.spec?.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
}

function leaseMetadata(name: string, namespace: string, resourceVersion: string | undefined): V1ObjectMeta {
  const metadata: Record<string, unknown> = { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'tracelab' } };
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  return metadata;
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/**
 * One run per layer at a time: a Lease `kube-system/tracelab-layer-<layer>`, renewed every 10 s
 * while the run lasts and deleted when it ends. A run that died leaves a lease that expires 30 s
 * after its last renewal. A second run exits at once naming the holder.
 */
export async function acquireLayerLock(kube: KubeClient, layer: string, command: string): Promise<LayerLock> {
  const ref = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: applySetParentName(layer), namespace: applySetNamespace };
  const identity = holderIdentity(command);
  const body = (resourceVersion: string | undefined): Lease => {
    const now = Date.now();
    return {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: leaseMetadata(ref.name, ref.namespace, resourceVersion),
      spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: microTime(now), renewTime: microTime(now) },
    };
  };
  let path = '';
  let held: Lease;
  try {
    path = await kube.path(ref);
    const live = await kube.get<Lease>(ref);
    if (live === undefined) {
      held = await kube.request<Lease>('POST', await kube.path({ ...ref, name: undefined }), { body: body(undefined) });
    } else {
      const expires = leaseExpiry(live);
      const holder = live.spec?.holderIdentity ?? '';
      if (expires > Date.now() && holder !== identity && !holderIsGone(holder)) throw busy(layer, live, expires);
      held = await kube.request<Lease>('PUT', path, { body: body(live.metadata?.resourceVersion) });
    }
  } catch (err) {
    // Another run took it between our read and our write.
    if (err instanceof KubeApiError && (err.status === 409 || err.status === 422)) {
      const winner = await kube.get<Lease>(ref);
      if (winner !== undefined) throw busy(layer, winner, leaseExpiry(winner));
    }
    if (err instanceof UserError) throw err;
    throw explainKubeError('take the lock', ref, err);
  }

  let renewal: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    renewal = (async () => {
      const renewed = { ...body(held.metadata?.resourceVersion), spec: { ...held.spec, renewTime: microTime(Date.now()) } };
      try {
        held = await kube.request<Lease>('PUT', path, { body: renewed });
      } catch {
        // A missed renewal is retried in 10 s; the lease lasts 30 s.
      }
    })();
  }, renewEveryMs);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await renewal;
      try {
        await kube.request('DELETE', path, { body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: held.metadata?.uid } } });
      } catch {
        // Gone already, or the API is away: the lease expires by itself.
      }
    },
  };
}

/** A holder on this host whose process no longer runs (killed, crashed) holds nothing. */
export function holderIsGone(holder: string): boolean {
  const match = /^[^@]*@(\S+) pid (\d+):/.exec(holder);
  if (match === null || match[1] !== hostname()) return false;
  try {
    process.kill(Number(match[2]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function busy(layer: string, lease: Lease, expires: number): UserError {
  const holder = lease.spec?.holderIdentity ?? 'an unknown holder';
  const renewedAgo = Math.max(0, Math.round((Date.now() - (expires - (lease.spec?.leaseDurationSeconds ?? leaseDurationSeconds) * 1000)) / 1000));
  return new UserError(
    `another tracelab run is changing layer ${layer} (${holder}; lock renewed ${renewedAgo}s ago) — wait until it ends and run again; if it died, its lock expires ${Math.max(0, Math.ceil((expires - Date.now()) / 1000))}s from now`,
    { exitCode: exitCodes.blocked },
  );
}
