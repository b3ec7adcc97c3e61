import { createHash } from 'node:crypto';
import { UserError, exitCodes } from '../core/errors.ts';
import type { RegistryCredentials } from './docker-config.ts';

/** The manifest types a lookup accepts: an image, an index, docker's own two. */
export const manifestTypes = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Where a registry answers and how the one-line errors name it and say what to look at. */
export interface RegistryEndpoint {
  /** The API's base: `https://registry.example.com:5000`, `http://127.0.0.1:41234`. */
  readonly base: URL;
  /** How messages name it: `the lab registry`, `registry registry.example.com:5000`. */
  readonly name: string;
  /** Where to look when it does not answer or refuses (a command, a flag). */
  readonly hint: string;
  readonly credentials?: RegistryCredentials | undefined;
  /** How messages name where the credentials came from: `pull secret 'creds'`. */
  readonly credentialsSource?: string | undefined;
}

/** One challenge of a `WWW-Authenticate` header: its scheme and parameters. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses `WWW-Authenticate: Bearer realm="https://auth/token",service="registry",scope="…"` (or
 * `Basic realm="…"`). Registries send one challenge; parameters are quoted or bare tokens.
 */
export function parseChallenge(header: string): Challenge | undefined {
  const scheme = /^\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)/.exec(header);
  if (scheme?.[1] === undefined) return undefined;
  const params: Record<string, string> = {};
  const param = /\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(?:,|$)/y;
  param.lastIndex = scheme[0].length;
  for (let match = param.exec(header); match !== null; match = param.exec(header)) {
    params[(match[1] ?? '').toLowerCase()] = match[2] === undefined ? (match[3] ?? '') : match[2].replace(/\\(.)/g, '$1');
  }
  return { scheme: scheme[1].toLowerCase(), params };
}

function basic(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

/** What went wrong underneath fetch's "fetch failed", on one line (OpenSSL's run over several). */
function causeOf(err: unknown): string {
  const message = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
  const ssl = /:SSL routines:[^:]*:([^:]+):/.exec(message)?.[1];
  return ssl ?? message.replace(/\s+/g, ' ').trim();
}

/** `: what the registry said`, or nothing when it said nothing (a HEAD). */
function colon(said: string): string {
  return said === '' ? '' : `: ${said}`;
}

async function saidBy(response: Response): Promise<string> {
  return (await response.text().catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 200);
}

export interface SendOptions {
  readonly body?: Buffer | undefined;
  readonly contentType?: string | undefined;
  readonly accept?: string | undefined;
  /** The statuses that are an answer; any other is one line naming it. */
  readonly expect: readonly number[];
  /** The repository the request is about, and whether it writes: the token's scope. */
  readonly repository: string;
  readonly push: boolean;
}

/**
 * A client of the OCI distribution API, talking to a registry directly: a bounded request, the
 * registry's challenge answered (Basic, or a Bearer token from its realm for the repository's
 * scope, with the credentials or anonymous), every failure one line naming the registry.
 */
export class RegistryClient {
  readonly endpoint: RegistryEndpoint;
  /** Bearer tokens by scope; 'basic' once the registry asked for Basic. */
  private readonly tokens = new Map<string, string>();
  private basicAsked = false;

  constructor(endpoint: RegistryEndpoint) {
    this.endpoint = endpoint;
  }

  /** A path of the repository's API: `/v2/<repository><path>`. */
  url(repository: string, path: string): URL {
    return new URL(`/v2/${repository}${path}`, this.endpoint.base);
  }

  /** The digest of a tag (or digest) in a repository, or undefined when the registry has no such manifest. */
  async manifestDigest(repository: string, reference: string): Promise<string | undefined> {
    const response = await this.send('GET', this.url(repository, `/manifests/${reference}`), { accept: manifestTypes, expect: [200, 404], repository, push: false });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    // The digest of the bytes as sent: the same the registry and the nodes compute.
    return `sha256:${createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex')}`;
  }

  async send(method: string, url: URL, options: SendOptions): Promise<Response> {
    const scope = `repository:${options.repository}:${options.push ? 'pull,push' : 'pull'}`;
    let sent = this.authorization(scope);
    let response = await this.once(method, url, options, sent);
    for (let round = 0; response.status === 401 && round < 2; round++) {
      const challenge = parseChallenge(response.headers.get('www-authenticate') ?? '');
      const said = await saidBy(response);
      const next = await this.answer(challenge, scope, said, sent, round);
      if (next === undefined) break;
      sent = next;
      response = await this.once(method, url, options, sent);
    }
    if (response.status === 401) throw this.unauthorized(`${method} ${url.pathname}`, await saidBy(response));
    if (!options.expect.includes(response.status)) {
      const said = await saidBy(response);
      const what = response.status === 403 ? `denied ${method} ${url.pathname} (403${colon(said)}) — ${this.credentialsLine()} no ${options.push ? 'push' : 'pull'} access to ${options.repository}` : `refused ${method} ${url.pathname} with ${String(response.status)}${colon(said)} — ${this.endpoint.hint}`;
      throw new UserError(`${this.endpoint.name} ${what}`, { exitCode: exitCodes.refused });
    }
    return response;
  }

  private authorization(scope: string): string | undefined {
    const token = this.tokens.get(scope);
    if (token !== undefined) return `Bearer ${token}`;
    return this.basicAsked && this.endpoint.credentials !== undefined ? basic(this.endpoint.credentials) : undefined;
  }

  /**
   * The Authorization a challenge asks for, or undefined when nothing more can be tried. `sent`
   * is what the refused request carried: requests run side by side, and one may have been sent
   * before another learnt what the registry wants.
   */
  private async answer(challenge: Challenge | undefined, scope: string, said: string, sent: string | undefined, round: number): Promise<string | undefined> {
    const { credentials } = this.endpoint;
    if (challenge?.scheme === 'basic') {
      if (credentials === undefined || sent === basic(credentials)) return undefined;
      this.basicAsked = true;
      return basic(credentials);
    }
    if (challenge?.scheme !== 'bearer' || challenge.params.realm === undefined) {
      throw new UserError(`${this.endpoint.name} asked for authentication tracelab does not speak (${challenge?.scheme ?? 'no WWW-Authenticate challenge'}${colon(said)}) — it speaks Basic and Bearer tokens`, { exitCode: exitCodes.refused });
    }
    const cached = this.tokens.get(scope);
    if (cached !== undefined && `Bearer ${cached}` !== sent) return `Bearer ${cached}`;
    // A fresh token that did not do: once more with the scope the registry named, then give up.
    const named = challenge.params.scope;
    if (round > 0 && (named === undefined || named === scope)) return undefined;
    const token = await this.fetchToken(challenge.params.realm, challenge.params.service, round > 0 && named !== undefined ? named : scope);
    this.tokens.set(scope, token);
    return `Bearer ${token}`;
  }

  /** The distribution spec's token flow: GET realm?service=…&scope=…, with Basic credentials when there are some. */
  private async fetchToken(realm: string, service: string | undefined, scope: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new UserError(`${this.endpoint.name} named a token realm that is not a URL ('${realm}') — ${this.endpoint.hint}`, { exitCode: exitCodes.refused });
    }
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const { credentials } = this.endpoint;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(30_000), headers: credentials === undefined ? {} : { Authorization: basic(credentials) } });
    } catch (err) {
      throw new UserError(`the token service of ${this.endpoint.name} at ${url.origin} did not answer (${causeOf(err)}) — ${this.endpoint.hint}`, { exitCode: exitCodes.unreachable, cause: err });
    }
    if (response.status === 401 || response.status === 403) throw this.unauthorized(`a token for ${scope}`, await saidBy(response));
    if (!response.ok) throw new UserError(`the token service of ${this.endpoint.name} refused a token for ${scope} with ${String(response.status)}${colon(await saidBy(response))}`, { exitCode: exitCodes.refused });
    const body = (await response.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw new UserError(`the token service of ${this.endpoint.name} answered without a token for ${scope}`, { exitCode: exitCodes.refused });
    return token;
  }

  private credentialsLine(): string {
    const { credentialsSource } = this.endpoint;
    return this.endpoint.credentials === undefined ? 'anonymous has' : `the credentials of ${credentialsSource ?? 'the pull secret'} have`;
  }

  private unauthorized(what: string, said: string): UserError {
    const { credentials, credentialsSource } = this.endpoint;
    const message =
      credentials === undefined
        ? `${this.endpoint.name} wants credentials for ${what} (401${colon(said)}) — pass --pull-secret NAME, a kubernetes.io/dockerconfigjson Secret with credentials for it`
        : `${this.endpoint.name} rejected the credentials of ${credentialsSource ?? 'the pull secret'} for ${what} (401${colon(said)}) — check the user name and password in that Secret`;
    return new UserError(message, { exitCode: exitCodes.refused });
  }

  /** One request, bounded in time; no answer is one line naming the registry and what to look at. */
  private async once(method: string, url: URL, options: SendOptions, authorization: string | undefined): Promise<Response> {
    const headers: Record<string, string> = {};
    if (authorization !== undefined) headers.Authorization = authorization;
    if (options.contentType !== undefined) headers['Content-Type'] = options.contentType;
    if (options.accept !== undefined) headers.Accept = options.accept;
    try {
      return await fetch(url, { method, signal: AbortSignal.timeout(120_000), headers, ...(options.body === undefined ? {} : { body: options.body }) });
    } catch (err) {
      const cause = causeOf(err);
      // A plain-HTTP registry asked over TLS fails in the handshake with OpenSSL's words.
      const plain = url.protocol === 'https:' && /wrong version number|packet length too long|EPROTO/i.test(cause) ? ' — it seems to speak plain HTTP: pass --registry-insecure' : '';
      throw new UserError(`${this.endpoint.name} did not answer ${method} ${url.pathname} (${cause})${plain || ` — ${this.endpoint.hint}`}`, { exitCode: exitCodes.unreachable, cause: err });
    }
  }
}
