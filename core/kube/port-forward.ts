import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';

/** A local port forwarded to a Service's pod. */
export interface Forward {
  /** The local port on 127.0.0.1. */
  readonly port: number;
  close(): Promise<void>;
}

/** Where a connection to a Service's port goes: one of its ready pods and the container port behind the Service port. */
export interface ForwardTarget {
  readonly pod: string;
  readonly port: number;
}

export interface ForwardOptions {
  /** The local port on 127.0.0.1; 0 (the default): an ephemeral one. */
  readonly localPort?: number;
  /** Told which pod the forward reaches: when it picks the first one, and whenever it switches to another (a replaced pod). */
  readonly onTarget?: (pod: string, previous: string | undefined) => void;
  /** Told why a connection could not be forwarded (no ready pod, the kubelet refused); the connection is closed. */
  readonly onError?: (message: string) => void;
}

function isReady(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp === undefined && pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * The pod and container port a connection to a Service's port goes to, as `kubectl port-forward
 * svc/…` resolves it: the Service's selector, a ready pod that is not being deleted, the
 * Service port's targetPort (a number, or a container port's name looked up in that pod).
 */
export async function resolveServiceTarget(kube: KubeClient, namespace: string, service: string, servicePort: number): Promise<ForwardTarget> {
  const found = await kube.get<V1Service>({ apiVersion: 'v1', kind: 'Service', name: service, namespace });
  if (found === undefined) throw new Error(`Service ${namespace}/${service} does not exist`);
  const selector = found.spec?.selector ?? {};
  if (Object.keys(selector).length === 0) throw new Error(`Service ${namespace}/${service} selects no pods (it has no selector)`);
  const ports = found.spec?.ports ?? [];
  const port = ports.find((p) => p.port === servicePort);
  if (port === undefined) throw new Error(`Service ${namespace}/${service} has no port ${String(servicePort)} (it has ${ports.map((p) => String(p.port)).join(', ') || 'none'})`);
  const labelSelector = Object.entries(selector).map(([key, value]) => `${key}=${value}`).join(',');
  const pods = (await kube.list<V1Pod>('v1', 'Pod', { namespace, labelSelector })).items;
  // The newest ready pod first: after a replacement it is the one that stays.
  const ready = pods.filter(isReady).sort((a, b) => String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')));
  const pod = ready[0];
  if (pod === undefined) throw new Error(`no ready pod behind Service ${namespace}/${service} (${pods.length === 0 ? 'no pods' : `${String(pods.length)} pods, none ready`})`);
  const name = pod.metadata?.name ?? '';
  const target = port.targetPort ?? port.port;
  if (typeof target === 'number') return { pod: name, port: target };
  if (/^\d+$/.test(target)) return { pod: name, port: Number(target) };
  const named = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((p) => p.name === target);
  if (named === undefined) throw new Error(`pod ${namespace}/${name} has no container port named '${target}' (the targetPort of Service ${namespace}/${service} port ${String(servicePort)})`);
  return { pod: name, port: named.containerPort };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

/**
 * Listens on 127.0.0.1 and forwards each connection to the Service's port on one of its ready
 * pods. The pod is resolved once and kept; when a connection to it fails (the pod is gone, the
 * kubelet says its port refused), the next connection resolves the Service again — and a pod that
 * is gone is replaced within the same connection, so a client sees at most the one connection
 * that was open when its pod went away fail. onTarget hears each switch.
 */
export async function forwardToService(kube: KubeClient, namespace: string, service: string, servicePort: number, options: ForwardOptions = {}): Promise<Forward> {
  // Loaded here, by the commands that forward: client-node takes ~0.5 s to import, which `--help` need not pay.
  const { PortForward } = await import('@kubernetes/client-node');
  const forwarder = new PortForward(kube.config, true);
  const sockets = new Set<Socket>();
  let current: ForwardTarget | undefined;
  let previousPod: string | undefined;
  let resolving: Promise<ForwardTarget> | undefined;

  // One resolution at a time, shared by the connections that arrive meanwhile.
  const target = (): Promise<ForwardTarget> => {
    if (current !== undefined) return Promise.resolve(current);
    resolving ??= resolveServiceTarget(kube, namespace, service, servicePort)
      .then((found) => {
        current = found;
        if (found.pod !== previousPod) options.onTarget?.(found.pod, previousPod);
        previousPod = found.pod;
        return found;
      })
      .finally(() => {
        resolving = undefined;
      });
    return resolving;
  };
  const forget = (pod: string): void => {
    if (current?.pod === pod) current = undefined;
  };
  const fail = (socket: Socket, err: unknown): void => {
    options.onError?.(message(err));
    socket.destroy();
  };

  const open = async (socket: Socket, to: ForwardTarget): Promise<void> => {
    // What the kubelet says went wrong (a refused port, a pod going away) ends this connection,
    // and the next one looks for the Service's pod again.
    const errors = new Writable({
      write(chunk: Buffer, _encoding, done) {
        // client-node writes the stream's opening (its port number, taken off) as an empty chunk.
        const said = chunk.toString('utf8').trim();
        if (said !== '') {
          forget(to.pod);
          fail(socket, new Error(`${namespace}/${to.pod}: ${said}`));
        }
        done();
      },
    });
    // client-node returns the `ws` WebSocket, whose types it does not export.
    const opened: unknown = await forwarder.portForward(namespace, to.pod, [to.port], socket, errors, socket);
    if (typeof opened === 'function') return;
    const connection = opened as { addEventListener(type: 'close', listener: () => void): void; close(): void };
    connection.addEventListener('close', () => socket.end());
    if (socket.destroyed) connection.close();
    else
      socket.on('close', () => {
        connection.close();
      });
  };

  const connect = async (socket: Socket): Promise<void> => {
    // Until the forward is open the socket is paused: what the client sent waits for the pod,
    // so a pod found gone can be replaced within this connection.
    for (let attempt = 0; ; attempt++) {
      let to: ForwardTarget;
      try {
        to = await target();
      } catch (err) {
        fail(socket, err);
        return;
      }
      if (socket.destroyed) return;
      try {
        await open(socket, to);
        return;
      } catch (err) {
        forget(to.pod);
        if (attempt >= 1) {
          fail(socket, new Error(`cannot forward to ${namespace}/${to.pod}: ${message(err)}`));
          return;
        }
      }
    }
  };

  const server = createServer((socket) => {
    sockets.add(socket);
    // A client resetting, or a forward failing, ends this connection only; onError tells why.
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    void connect(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.localPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (options.localPort ?? 0);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
