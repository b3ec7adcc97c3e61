import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { PortForward } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';

/** A local port forwarded to a Service's pod. */
export interface Forward {
  /** The local port on 127.0.0.1. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (an ephemeral port unless one is given) and forwards each connection to a
 * ready pod of the Service, chosen afresh per connection (so a replaced pod is found again).
 */
export async function forwardToService(kube: KubeClient, namespace: string, service: string, targetPort: number, localPort = 0): Promise<Forward> {
  const forwarder = new PortForward(kube.config, true);
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // What the kubelet says went wrong (a refused port, a pod going away) ends this connection.
    const errors = new Writable({
      write(chunk: Buffer, _encoding, done) {
        // client-node writes the stream's opening (its port number, taken off) as an empty chunk.
        const said = chunk.toString('utf8').trim();
        if (said !== '') socket.destroy(new Error(said));
        done();
      },
    });
    forwarder
      .portForwardService(namespace, service, [targetPort], socket, errors, socket)
      .then((opened) => {
        if (typeof opened === 'function') return;
        // client-node returns the `ws` WebSocket, whose types it does not export.
        const connection = opened as unknown as { addEventListener(type: 'close', listener: () => void): void; close(): void };
        connection.addEventListener('close', () => socket.end());
        if (socket.destroyed) connection.close();
        else
          socket.on('close', () => {
            connection.close();
          });
      })
      .catch((err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(localPort, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : localPort;
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
