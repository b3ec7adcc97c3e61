import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { KubeConfig, findHomeDir, type HttpMethod, type KubernetesObject } from '@kubernetes/client-node';
import { UserError, exitCodes } from '../errors.ts';
import { KubeApiError, KubeUnreachableError, innermostMessage, isNotFound, networkErrorCode } from './errors.ts';
import { defaultRetryPolicy, withRetry, type RetryPolicy } from './retry.ts';
import { createClientNodeTransport, type RawResponse, type Transport } from './transport.ts';

export interface KubeClientOptions {
  /** kubeconfig path (or several joined by the path delimiter, like KUBECONFIG); undefined: ~/.kube/config. */
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  readonly retry?: RetryPolicy;
  /** Epoch ms (the command's --timeout): no request or retry runs past it. */
  readonly deadline?: number | undefined;
}

/** Deadline of one request (not of a watch). */
const requestTimeoutMs = 30_000;

export interface ApiResource {
  readonly apiVersion: string;
  readonly kind: string;
  /** Plural resource name used in URLs, e.g. deployments. */
  readonly plural: string;
  readonly namespaced: boolean;
}

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  readonly contentType?: string;
  /** 'text': the body as it came (a pod's log); default: the body parsed as JSON. */
  readonly responseType?: 'json' | 'text';
  /** An Accept header of its own (a registry's manifest types through the service proxy). */
  readonly accept?: string;
}

export interface ListResult<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/**
 * The one way tracelab talks to the Kubernetes API: the user's kubeconfig and context, one
 * connection pool, transient errors retried within a bound, errors typed (KubeApiError,
 * KubeUnreachableError; rejected or expired credentials a UserError, exit 4). Layers never use
 * it directly; the deploy engine and commands do.
 */
export interface KubeClient {
  readonly server: string;
  readonly contextName: string;
  /** client-node's KubeConfig for the same cluster and user, for port-forward, exec and the like. */
  readonly config: KubeConfig;
  request<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T>;
  resource(apiVersion: string, kind: string): Promise<ApiResource>;
  /** The served apiVersion of a group-kind (`Deployment.apps` → apps/v1); undefined when no longer served. */
  resolveGroupKind(groupKind: string): Promise<{ apiVersion: string; kind: string } | undefined>;
  /** URL path of a collection (name omitted) or of one object. */
  path(ref: { apiVersion: string; kind: string; name?: string | undefined; namespace?: string | undefined }): Promise<string>;
  /** The live object, or undefined when it does not exist. */
  get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined>;
  /** Lists across all namespaces unless one is given. */
  list<T extends KubernetesObject>(apiVersion: string, kind: string, options?: { namespace?: string; labelSelector?: string; fieldSelector?: string }): Promise<ListResult<T>>;
  /** Streams watch events of a collection path until the server ends the stream or the signal aborts. */
  watch(path: string, query: Query, onEvent: (type: WatchEventType, object: KubernetesObject) => void, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * Loads the kubeconfig with client-node (one clear line when it or the context is missing) and
 * returns a client that sends through client-node's request path.
 */
export function createKube(options: KubeClientOptions = {}): KubeClient {
  const config = loadKubeConfig(options.kubeconfig, options.context);
  return new HttpKubeClient(config, createClientNodeTransport(config), options);
}

/** client-node's KubeConfig for the given kubeconfig and context, with the same error lines. */
export function loadKubeConfig(kubeconfig: string | undefined, context: string | undefined): KubeConfig {
  const config = new KubeConfig();
  const files = (kubeconfig ?? '').split(delimiter).filter((file) => file !== '');
  try {
    if (files.length === 0) {
      const missing = noDefaultKubeconfig();
      if (missing !== undefined) throw new UserError(missing);
      config.loadFromDefault();
    } else {
      for (const [index, file] of files.entries()) {
        if (!existsSync(file)) throw new UserError(`kubeconfig ${file} does not exist — pass --kubeconfig <path> or set KUBECONFIG`);
        if (index === 0) {
          config.loadFromFile(file);
        } else {
          const more = new KubeConfig();
          more.loadFromFile(file);
          config.mergeConfig(more, true);
        }
      }
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    // First line only: a YAML error goes on to quote the file around the bad line, credentials included.
    const reason = innermostMessage(err).split('\n')[0] ?? '';
    throw new UserError(`cannot read kubeconfig ${files.join(delimiter) || '~/.kube/config'}: ${reason} — fix the file or pass another with --kubeconfig`, { cause: err });
  }
  if (context !== undefined) {
    if (config.getContextObject(context) === null) {
      const known = config.getContexts().map((c) => c.name);
      throw new UserError(`kubeconfig has no context '${context}' (it has: ${known.join(', ') || 'none'}) — pass one of those to --context`);
    }
    config.setCurrentContext(context);
  }
  if (config.getCurrentCluster() === null) {
    throw new UserError('no Kubernetes cluster configured: pass --kubeconfig <path> (or set KUBECONFIG) and, if needed, --context <name>');
  }
  return config;
}

/** Where client-node's loadFromDefault finds the credentials of a pod. */
const serviceAccountToken = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Why loadFromDefault would find no kubeconfig, or undefined when it will find one. It reads
 * $KUBECONFIG, then <home>/.kube/config, then a pod's service account; with none of them it makes
 * up a cluster at http://localhost:8080 whose first request fails with a line about skipTLSVerify.
 * client-node reads the environment there itself, so this check reads the same variables the
 * same way (its findHomeDir) right before that call.
 */
function noDefaultKubeconfig(): string | undefined {
  if ((process.env.KUBECONFIG ?? '') !== '') return undefined;
  // On Windows loadFromDefault also asks WSL for a kubeconfig, which no file check can see.
  if (process.platform === 'win32' || existsSync(serviceAccountToken)) return undefined;
  const home = findHomeDir();
  const homeConfig = home === null ? undefined : join(home, '.kube', 'config');
  if (homeConfig !== undefined && existsSync(homeConfig)) return undefined;
  const lookedAt = homeConfig === undefined ? 'KUBECONFIG and HOME are not set' : `KUBECONFIG is not set and ${homeConfig} does not exist`;
  return `no kubeconfig found (${lookedAt}) — pass --kubeconfig <path> or set KUBECONFIG (a kubeadm cluster: copy /etc/kubernetes/admin.conf from a control-plane node)`;
}

class HttpKubeClient implements KubeClient {
  readonly server: string;
  readonly contextName: string;
  readonly config: KubeConfig;
  private readonly transport: Transport;
  private readonly retry: RetryPolicy;
  private readonly deadline: number | undefined;
  private readonly discovery = new Map<string, Promise<ApiResource[]>>();

  constructor(config: KubeConfig, transport: Transport, options: KubeClientOptions) {
    this.config = config;
    this.server = config.getCurrentCluster()?.server ?? '';
    this.contextName = config.getCurrentContext();
    this.transport = transport;
    this.retry = options.retry ?? defaultRetryPolicy;
    this.deadline = options.deadline;
  }

  request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    if (this.deadline === undefined) return withRetry(() => this.requestOnce<T>(method, path, options), this.retry);
    const left = this.deadline - Date.now();
    if (left <= 0) {
      return Promise.reject(new UserError(`the --timeout deadline passed before tracelab could ${method} ${path} at ${this.server} — pass a longer --timeout`, { exitCode: exitCodes.timedOut }));
    }
    // Retries stop, and a hanging request is cut, at the command's deadline.
    return withRetry(() => this.requestOnce<T>(method, path, options, Math.min(requestTimeoutMs, this.deadline === undefined ? requestTimeoutMs : this.deadline - Date.now())), {
      ...this.retry,
      maxElapsedMs: Math.min(this.retry.maxElapsedMs, left),
    });
  }

  private async send(method: HttpMethod, path: string, options: RequestOptions, signal: AbortSignal): Promise<RawResponse> {
    const url = new URL(this.server.replace(/\/$/, '') + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { Accept: options.accept ?? (options.responseType === 'text' ? 'text/plain, */*' : 'application/json') };
    if (options.body !== undefined) headers['Content-Type'] = options.contentType ?? 'application/json';
    try {
      return await this.transport.send(method, url, headers, options.body === undefined ? undefined : JSON.stringify(options.body), signal);
    } catch (err) {
      const code = networkErrorCode(err);
      if (code !== undefined) throw new KubeUnreachableError(this.server, code, innermostMessage(err), { cause: err });
      if (signal.aborted || err instanceof UserError) throw err;
      // A certificate that does not verify, a port fetch refuses: no retry changes it, and undici's
      // own message is only "fetch failed".
      throw new UserError(
        `cannot talk to the Kubernetes API at ${this.server}: ${innermostMessage(err)} — check the server and certificate-authority of kubeconfig context '${this.contextName}'`,
        { cause: err, exitCode: exitCodes.unreachable },
      );
    }
  }

  private async requestOnce<T>(method: HttpMethod, path: string, options: RequestOptions, timeoutMs = requestTimeoutMs): Promise<T> {
    const response = await this.send(method, path, options, AbortSignal.timeout(Math.max(1, timeoutMs)));
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw new KubeUnreachableError(this.server, networkErrorCode(err) ?? 'ECONNRESET', innermostMessage(err), { cause: err });
    }
    if (response.status >= 200 && response.status < 300) {
      if (options.responseType === 'text') return text as T;
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }
    throw this.refusal(response.status, text, method, path);
  }

  /**
   * A non-2xx answer as an error. A 401 means the kubeconfig's credentials: one line naming them
   * and the fix (exit 4, like a server that cannot be reached); every other status stays a
   * KubeApiError for the caller to judge (404 absent, 409 conflict, 403 forbidden, …).
   */
  private refusal(status: number, text: string, method: string, path: string): Error {
    const err = apiError(status, text, method, path);
    if (status !== 401) return err;
    return new UserError(
      `the Kubernetes API at ${this.server} rejected the credentials of kubeconfig context '${this.contextName}' (401 Unauthorized): they are wrong or expired — refresh them (a kubeadm cluster: copy /etc/kubernetes/admin.conf again) or pass another --context`,
      { cause: err, exitCode: exitCodes.unreachable },
    );
  }

  async resource(apiVersion: string, kind: string): Promise<ApiResource> {
    const find = async (): Promise<ApiResource | undefined> => (await this.discover(apiVersion)).find((r) => r.kind === kind);
    let found = await find();
    if (found === undefined) {
      // A CRD applied moments ago: discovery may have been cached before it existed.
      this.discovery.delete(apiVersion);
      found = await find();
    }
    if (found === undefined) throw new UserError(`the cluster serves no kind ${kind} in ${apiVersion} — is the API (or its CRD) installed?`);
    return found;
  }

  async resolveGroupKind(groupKind: string): Promise<{ apiVersion: string; kind: string } | undefined> {
    const dot = groupKind.indexOf('.');
    const kind = dot === -1 ? groupKind : groupKind.slice(0, dot);
    const group = dot === -1 ? '' : groupKind.slice(dot + 1);
    let apiVersion = 'v1';
    if (group !== '') {
      try {
        const served = await this.request<{ preferredVersion?: { groupVersion?: string } }>('GET', `/apis/${group}`);
        apiVersion = served.preferredVersion?.groupVersion ?? '';
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    }
    const found = (await this.discover(apiVersion)).find((r) => r.kind === kind);
    return found === undefined ? undefined : { apiVersion, kind };
  }

  private discover(apiVersion: string): Promise<ApiResource[]> {
    let cached = this.discovery.get(apiVersion);
    if (cached === undefined) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      cached = this.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', path)
        .then((list) =>
          list.resources.filter((r) => !r.name.includes('/')).map((r) => ({ apiVersion, kind: r.kind, plural: r.name, namespaced: r.namespaced })),
        )
        .catch((err: unknown) => {
          this.discovery.delete(apiVersion);
          if (isNotFound(err)) return [];
          throw err;
        });
      this.discovery.set(apiVersion, cached);
    }
    return cached;
  }

  async path(ref: { apiVersion: string; kind: string; name?: string | undefined; namespace?: string | undefined }): Promise<string> {
    const resource = await this.resource(ref.apiVersion, ref.kind);
    const root = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const namespace = resource.namespaced && ref.namespace !== undefined ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
    const name = ref.name === undefined ? '' : `/${encodeURIComponent(ref.name)}`;
    return `${root}${namespace}/${resource.plural}${name}`;
  }

  async get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', await this.path(ref));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    options: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<ListResult<T>> {
    const path = await this.path({ apiVersion, kind, namespace: options.namespace });
    const list = await this.request<{ items: T[] | null; metadata?: { resourceVersion?: string } }>('GET', path, {
      query: { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector },
    });
    const items = (list.items ?? []).map((item) => ({ ...item, apiVersion, kind }));
    return { items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  async watch(path: string, query: Query, onEvent: (type: WatchEventType, object: KubernetesObject) => void, signal: AbortSignal): Promise<void> {
    const response = await this.send('GET', path, { query: { ...query, watch: true } }, signal);
    if (response.status !== 200) throw this.refusal(response.status, await response.text(), 'GET', path);
    const stream = response.stream();
    const lines = createInterface({ input: stream });
    try {
      for await (const line of lines) {
        if (line.trim() === '') continue;
        const event = JSON.parse(line) as { type: WatchEventType; object: KubernetesObject };
        onEvent(event.type, event.object);
      }
    } catch (err) {
      if (signal.aborted) return;
      throw new KubeUnreachableError(this.server, networkErrorCode(err) ?? 'ECONNRESET', innermostMessage(err), { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

function apiError(status: number, text: string, method: string, path: string): KubeApiError {
  let reason = '';
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as { reason?: string; message?: string };
    reason = parsed.reason ?? '';
    message = parsed.message ?? message;
  } catch {
    // Not a Status object (a proxy in between): keep the raw text.
  }
  return new KubeApiError({ status, reason, message: message || `HTTP ${status}`, method, path });
}
