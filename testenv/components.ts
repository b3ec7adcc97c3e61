import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';

/** The binaries that testenv/components/build.sh puts into the cache, by the component that builds them. */
const COMPONENT_OF_BINARY = {
  jaeger: 'jaeger',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  etcd: 'etcd',
  'kube-apiserver': 'kubernetes',
  'kube-controller-manager': 'kubernetes',
  'kube-scheduler': 'kubernetes',
  kubectl: 'kubernetes',
  kwok: 'kwok',
  kwokctl: 'kwok',
  // real nodes (build.sh node-all)
  kubelet: 'node',
  kubeadm: 'node',
  'kube-proxy': 'node',
  containerd: 'containerd',
  ctr: 'containerd',
  'containerd-shim-runc-v2': 'containerd',
  'cni/bridge': 'cni',
  'cni/host-local': 'cni',
  'cni/loopback': 'cni',
  'cni/portmap': 'cni',
  crictl: 'crictl',
  coredns: 'coredns',
  pause: 'pause',
  flanneld: 'flannel',
  'flannel-install-conf': 'flannel',
  'cni/flannel': 'flannel',
  // the monitoring layer's images on real nodes
  'node-exporter': 'node-exporter',
  'metrics-server': 'metrics-server',
  // images built and shipped without a public registry, and manifest checks
  buildkitd: 'buildkit',
  buildctl: 'buildkit',
  rootlesskit: 'rootlesskit',
  registry: 'registry',
  'kube-score': 'kube-score',
  // the storage layer's provisioner (its image on real nodes)
  'local-path-provisioner': 'local-path-provisioner',
  // the mesh layer: istiod, istioctl, the istio-cni node agent and its CNI plugin
  'pilot-discovery': 'istio',
  istioctl: 'istio',
  'install-cni': 'istio',
  'cni/istio-cni': 'istio',
} as const;

export type ComponentBinary = keyof typeof COMPONENT_OF_BINARY;
export type Component = (typeof COMPONENT_OF_BINARY)[ComponentBinary];

const BUILD_SCRIPT = 'testenv/components/build.sh';

/** Where build.sh caches its work: `$TRACELAB_CACHE`, default `~/.cache/tracelab`. */
export function cacheDir(): string {
  const fromEnv = process.env.TRACELAB_CACHE;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(homedir(), '.cache', 'tracelab');
}

/** Absolute path of a built component binary (it may not exist yet). */
export function componentPath(name: ComponentBinary): string {
  return path.join(cacheDir(), 'bin', name);
}

/** The build.sh component that provides a binary, e.g. `kube-apiserver` → `kubernetes`. */
export function componentOf(name: ComponentBinary): Component {
  return COMPONENT_OF_BINARY[name];
}

export function isBuilt(name: ComponentBinary): boolean {
  try {
    accessSync(componentPath(name), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The command that builds a binary, for messages. */
export function buildHint(names: readonly ComponentBinary[]): string {
  const components = [...new Set(names.map(componentOf))];
  return `bash ${BUILD_SCRIPT} ${components.join(' ')}`;
}

/**
 * For node:test: the absolute paths of the named binaries, or undefined after marking the test
 * skipped when one is missing. Under CI=true a missing binary fails the test instead, because CI
 * must run every integration test.
 *
 *   const jaeger = requireComponent(t, 'jaeger');
 *   if (jaeger === undefined) return;
 */
export function requireComponent(t: TestContext, name: ComponentBinary): string | undefined {
  return requireComponents(t, [name])?.[0];
}

export function requireComponents(t: TestContext, names: readonly ComponentBinary[]): string[] | undefined {
  const missing = names.filter((n) => !isBuilt(n));
  if (missing.length === 0) return names.map(componentPath);
  const message = `${missing.join(', ')} not built: run ${buildHint(missing)}`;
  if (process.env.CI === 'true') throw new Error(message);
  t.skip(message);
  return undefined;
}

/** The pinned versions from testenv/components/versions.env (KEY=value lines). */
export function componentVersions(): Readonly<Record<string, string>> {
  const file = new URL('./components/versions.env', import.meta.url);
  const versions: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(\S*)\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) versions[match[1]] = match[2];
  }
  return versions;
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago. Another process may take it before the
 * caller binds it; the window is small and callers that start servers report the port in errors.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  if (address === null || typeof address === 'string') throw new Error('freePort: the socket has no TCP address');
  return address.port;
}

/** Several distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export interface WaitForHttpOptions {
  /** Give up after this many milliseconds. @default 30000 */
  deadlineMs?: number;
  /** Pause between attempts. @default 200 */
  intervalMs?: number;
  /** What is being waited for, for the error message. @default the URL */
  what?: string;
  /** Accept a response. @default status 200–299 */
  accept?: (res: Response, body: string) => boolean;
  /** Extra fetch options (headers, TLS is not supported by fetch: use plain http). */
  init?: RequestInit;
  /** Fail at once when this returns a reason (e.g. the server process exited). */
  abortIf?: () => string | undefined;
}

/** Retry a GET until it is accepted or the deadline passes; the error says what it still waits for. */
export async function waitForHttp(url: string, options: WaitForHttpOptions = {}): Promise<{ res: Response; body: string }> {
  const deadlineMs = options.deadlineMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const what = options.what ?? url;
  const accept = options.accept ?? ((res: Response) => res.ok);
  const deadline = Date.now() + deadlineMs;
  let last: string;
  for (;;) {
    const abort = options.abortIf?.();
    if (abort !== undefined) throw new Error(`stopped waiting for ${what}: ${abort}`);
    try {
      const res = await fetch(url, { ...options.init, signal: AbortSignal.timeout(Math.max(1000, Math.min(5000, deadline - Date.now()))) });
      const body = await res.text();
      if (accept(res, body)) return { res, body };
      last = `HTTP ${res.status}: ${body.slice(0, 200)}`;
    } catch (err) {
      last = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    }
    if (Date.now() + intervalMs > deadline) {
      throw new Error(`still waiting for ${what} after ${deadlineMs} ms (GET ${url}; last: ${last})`);
    }
    await sleep(intervalMs);
  }
}

/** Throw this from a waitFor check to end the wait at once (e.g. the awaited process exited). */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * Retry a check until it returns a value (not undefined) or the deadline passes. Errors thrown by
 * the check count as "not yet" (the last one is reported), except StopWaiting.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  options: { deadlineMs?: number; intervalMs?: number; status?: () => string } = {},
): Promise<T> {
  const deadlineMs = options.deadlineMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + deadlineMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof StopWaiting) throw new Error(`stopped waiting for ${what}: ${err.message}`, { cause: err });
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() + intervalMs > deadline) {
      const status = options.status?.() ?? lastError;
      throw new Error(`still waiting for ${what} after ${deadlineMs} ms${status === '' ? '' : ` (${status})`}`);
    }
    await sleep(intervalMs);
  }
}
