import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, errors } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';

export interface BackendClientOptions {
  origin: URL;
  /** Per attempt: time to response headers, and between body chunks. */
  timeoutMs: number;
  /** Extra attempts after a connection error or a 503; only for GET. */
  retries: number;
  connections: number;
}

export type BackendResult =
  | { kind: 'response'; status: number; body: unknown; attempts: number }
  | { kind: 'timeout'; attempts: number; message: string }
  | { kind: 'unreachable'; attempts: number; message: string };

/** Headers the backend (and Istio's Envoy) need to see again on the hop out. */
export function forwardedHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (typeof value === 'string' && (name.startsWith('x-tracelab-') || name === 'x-request-id')) headers[name] = value;
  }
  return headers;
}

const retriableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

function isTimeout(err: unknown): boolean {
  return err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError || err instanceof errors.ConnectTimeoutError;
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && retriableCodes.has(code);
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Keep-alive pool to one backend origin, with a per-attempt timeout and a bounded retry. */
export class BackendClient {
  readonly #pool: Pool;
  readonly #options: BackendClientOptions;

  constructor(options: BackendClientOptions) {
    this.#options = options;
    this.#pool = new Pool(options.origin, { connections: options.connections, pipelining: 1 });
  }

  async get(path: string, headers: Record<string, string>): Promise<BackendResult> {
    const { timeoutMs, retries } = this.#options;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.#pool.request({
          method: 'GET',
          path,
          headers,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const text = await response.body.text();
        if (response.statusCode === 503 && attempt <= retries) {
          await backoff(attempt);
          continue;
        }
        return { kind: 'response', status: response.statusCode, body: parseJson(text), attempts: attempt };
      } catch (err) {
        if (isTimeout(err)) return { kind: 'timeout', attempts: attempt, message: describe(err) };
        if (!isConnectionError(err) || attempt > retries) return { kind: 'unreachable', attempts: attempt, message: describe(err) };
        await backoff(attempt);
      }
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { raw: text.slice(0, 200) };
  }
}

/** 10, 20, 40 ms… plus jitter: short enough to stay inside a user's patience. */
function backoff(attempt: number): Promise<void> {
  return sleep(10 * 2 ** (attempt - 1) + Math.random() * 10);
}
