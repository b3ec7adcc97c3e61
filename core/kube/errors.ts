/** A non-2xx answer from the Kubernetes API, with the Status object's reason and message. */
export class KubeApiError extends Error {
  readonly status: number;
  /** Status.reason, e.g. NotFound, Invalid, Forbidden, Conflict, BadRequest. */
  readonly reason: string;
  readonly method: string;
  readonly path: string;

  constructor(init: { status: number; reason: string; message: string; method: string; path: string }) {
    super(init.message);
    this.name = 'KubeApiError';
    this.status = init.status;
    this.reason = init.reason;
    this.method = init.method;
    this.path = init.path;
  }
}

/** The API could not be reached at all (refused, reset, DNS, TLS, timeout). */
export class KubeUnreachableError extends Error {
  readonly server: string;
  readonly code: string;

  constructor(server: string, code: string, detail: string, options?: { cause?: unknown }) {
    super(`cannot reach the Kubernetes API at ${server}: ${detail}`, options);
    this.name = 'KubeUnreachableError';
    this.server = server;
    this.code = code;
  }
}

const transientStatuses = new Set([429, 500, 502, 503, 504]);

/**
 * Transient errors are worth retrying: the API was unreachable, overloaded or restarting.
 * Everything else (validation, forbidden, not found, conflict) will not get better by waiting.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof KubeUnreachableError) return true;
  if (err instanceof KubeApiError) return transientStatuses.has(err.status) && !isSchemaError(err);
  return false;
}

/**
 * Server-side apply reports a patch that does not fit the schema as a 500 (InternalError)
 * although it is the caller's input: it will fail the same way every time.
 */
export function isSchemaError(err: KubeApiError): boolean {
  return /^failed to create typed patch object|field not declared in schema/.test(err.message);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** Finds the network error code (ECONNREFUSED, …) in an error's cause chain, if there is one. */
export function networkErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && networkCodes.has(code)) return code;
    if (current.name === 'TimeoutError') return 'ETIMEDOUT';
    if (/socket hang up|other side closed/i.test(current.message)) return 'ECONNRESET';
    current = current.cause;
  }
  return undefined;
}

/** The most specific message in a cause chain: undici says "fetch failed", its cause says why. */
export function innermostMessage(err: unknown): string {
  let current: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}

/**
 * Trims the apiserver's wrapping from a Status message so that one line names the field:
 * `failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.x: field not declared in schema`
 * becomes `.spec.x: field not declared in schema`.
 */
export function conciseApiMessage(message: string): string {
  return message
    .replace(/^failed to create typed patch object \([^)]*\):\s*/, '')
    .replace(/^[A-Za-z]+(\.[a-z0-9.-]+)? "[^"]*" is invalid: /, '')
    .replace(/\s+/g, ' ')
    .trim();
}
