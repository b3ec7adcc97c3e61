import autocannon from 'autocannon';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { once } from 'node:events';

export interface LoadOutcome {
  result: autocannon.Result;
  /** Responses by status code. */
  statuses: Map<number, number>;
  /** Request errors by code (ECONNREFUSED, ECONNRESET, …). */
  errors: Map<string, number>;
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Runs autocannon and counts every response and request error, not just the summary. */
export async function runLoad(options: autocannon.Options, whileRunning?: () => Promise<void>): Promise<LoadOutcome> {
  const statuses = new Map<number, number>();
  const errors = new Map<string, number>();
  let finish: (result: autocannon.Result) => void = () => undefined;
  let fail: (err: unknown) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const instance = autocannon(options, (err: unknown, result: autocannon.Result) => {
    if (err) fail(err);
    else finish(result);
  });
  instance.on('response', (_client, statusCode) => {
    bump(statuses, statusCode);
  });
  instance.on('reqError', (err: Error & { code?: string }) => {
    bump(errors, err.code ?? err.message);
  });
  await whileRunning?.();
  return { result: await done, statuses, errors };
}

export function total(map: Map<unknown, number>): number {
  let sum = 0;
  for (const value of map.values()) sum += value;
  return sum;
}

/**
 * A connection-level round-robin balancer in front of several backends, like kube-proxy: a
 * backend that refuses the connection is skipped for the next one.
 */
export async function startBalancer(upstreamPorts: readonly number[]): Promise<{ port: number; close: () => Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.pause();
    const attempt = (left: number): void => {
      const port = upstreamPorts[next++ % upstreamPorts.length] ?? 0;
      const upstream = connect(port, '127.0.0.1');
      upstream.once('connect', () => {
        sockets.add(upstream);
        upstream.once('close', () => { client.destroy(); sockets.delete(upstream); });
        client.once('close', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        if (upstream.connecting || !sockets.has(upstream)) {
          if (left > 0) attempt(left - 1);
          else client.destroy();
        }
      });
    };
    attempt(upstreamPorts.length - 1);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('balancer has no TCP address');
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => { resolve(); }));
    },
  };
}
