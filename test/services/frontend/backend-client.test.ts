import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { freePort } from '../../../testenv/components.ts';
import { BackendClient, forwardedHeaders } from '../../../services/frontend/src/backend-client.ts';

const servers: Server[] = [];
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

async function backendStub(handler: (request: IncomingMessage, response: ServerResponse, call: number) => void): Promise<URL> {
  let calls = 0;
  const server = createServer((request, response) => {
    handler(request, response, ++calls);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return new URL(`http://127.0.0.1:${address.port}`);
}

function client(origin: URL, timeoutMs = 1_000, retries = 2): BackendClient {
  return new BackendClient({ origin, timeoutMs, retries, connections: 4 });
}

describe('BackendClient.get()', () => {
  it('returns the JSON answer and sends the forwarded headers', async () => {
    const origin = await backendStub((request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ requestId: request.headers['x-request-id'], latency: request.headers['x-tracelab-latency-ms'] }));
    });
    const result = await client(origin).get('/api/work', { 'x-request-id': 'r1', 'x-tracelab-latency-ms': '5' });
    assert.deepEqual(result, { kind: 'response', status: 200, body: { requestId: 'r1', latency: '5' }, attempts: 1 });
  });

  it('retries a 503 and succeeds on the next attempt', async () => {
    const origin = await backendStub((_request, response, call) => {
      response.statusCode = call === 1 ? 503 : 200;
      response.end(JSON.stringify({ call }));
    });
    assert.deepEqual(await client(origin).get('/api/work', {}), { kind: 'response', status: 200, body: { call: 2 }, attempts: 2 });
  });

  it('does not retry a 500', async () => {
    const origin = await backendStub((_request, response, call) => {
      response.statusCode = 500;
      response.end(JSON.stringify({ call }));
    });
    assert.deepEqual(await client(origin).get('/api/work', {}), { kind: 'response', status: 500, body: { call: 1 }, attempts: 1 });
  });

  it('gives up on a refused connection after the bounded retries', async () => {
    const origin = new URL(`http://127.0.0.1:${await freePort()}`);
    const result = await client(origin, 1_000, 2).get('/api/work', {});
    assert.equal(result.kind, 'unreachable');
    assert.equal(result.attempts, 3);
    assert.match('message' in result ? result.message : '', /ECONNREFUSED/);
  });

  it('times out a backend that never answers, without retrying', async () => {
    let calls = 0;
    const origin = await backendStub(() => {
      calls++; // never answers
    });
    const result = await client(origin, 200).get('/api/work', {});
    assert.equal(result.kind, 'timeout');
    assert.equal(calls, 1);
  });
});

describe('forwardedHeaders()', () => {
  it('copies x-request-id and x-tracelab-* only', () => {
    assert.deepEqual(
      forwardedHeaders({ 'x-request-id': 'abc', 'x-tracelab-error-rate': '1', cookie: 'secret', traceparent: '00-…', host: 'frontend' }),
      { 'x-request-id': 'abc', 'x-tracelab-error-rate': '1' },
    );
  });
});
