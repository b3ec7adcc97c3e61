import { existsSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { Readable } from 'node:stream';
import type * as ClientNode from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { UserError } from '../errors.ts';
import { innermostMessage } from './errors.ts';

export interface RawResponse {
  readonly status: number;
  text(): Promise<string>;
  stream(): Readable;
}

/** How requests reach the API server: TLS, credentials, one connection pool. */
export interface Transport {
  readonly server: string;
  readonly contextName: string;
  send(method: string, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<RawResponse>;
  /** The same kubeconfig as client-node's KubeConfig, for port-forward, exec and the like. */
  kubeConfig(): Promise<KubeConfig>;
  close(): Promise<void>;
}

interface NamedEntry<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

interface KubeconfigFile {
  clusters?: NamedEntry<Record<string, unknown>>[] | null;
  users?: NamedEntry<Record<string, unknown>>[] | null;
  contexts?: NamedEntry<Record<string, unknown>>[] | null;
  'current-context'?: string;
}

interface Selected {
  readonly contextName: string;
  readonly cluster: Record<string, unknown>;
  readonly user: Record<string, unknown>;
  /** Directory of the file that defined each, for relative certificate paths. */
  readonly clusterDir: string;
  readonly userDir: string;
}

export function kubeconfigFiles(kubeconfig: string | undefined): string[] {
  const files = (kubeconfig ?? '').split(delimiter).filter((file) => file !== '');
  if (files.length > 0) return files;
  const fallback = join(homedir(), '.kube', 'config');
  return existsSync(fallback) ? [fallback] : [];
}

/**
 * Reads the kubeconfig the way kubectl merges several files (the first definition of a name
 * wins) and selects the context. One clear line when a file or the context is missing.
 */
export function selectContext(files: readonly string[], context: string | undefined): Selected {
  const clusters = new Map<string, { value: Record<string, unknown>; dir: string }>();
  const users = new Map<string, { value: Record<string, unknown>; dir: string }>();
  const contexts = new Map<string, Record<string, unknown>>();
  let current: string | undefined;
  for (const file of files) {
    if (!existsSync(file)) throw new UserError(`kubeconfig ${file} does not exist — pass --kubeconfig <path> or set KUBECONFIG`);
    let parsed: KubeconfigFile | null;
    try {
      parsed = parse(readFileSync(file, 'utf8')) as KubeconfigFile | null;
    } catch (err) {
      throw new UserError(`cannot read kubeconfig ${file}: ${innermostMessage(err)}`, { cause: err });
    }
    const dir = dirname(file);
    for (const entry of parsed?.clusters ?? []) if (!clusters.has(entry.name)) clusters.set(entry.name, { value: entry.cluster ?? {}, dir });
    for (const entry of parsed?.users ?? []) if (!users.has(entry.name)) users.set(entry.name, { value: entry.user ?? {}, dir });
    for (const entry of parsed?.contexts ?? []) if (!contexts.has(entry.name)) contexts.set(entry.name, entry.context ?? {});
    current ??= parsed?.['current-context'] || undefined;
  }
  const contextName = context ?? current;
  if (contextName === undefined) throw new UserError('the kubeconfig has no current context: pass --context <name>');
  const selected = contexts.get(contextName);
  if (selected === undefined) {
    throw new UserError(`kubeconfig has no context '${contextName}' (it has: ${[...contexts.keys()].join(', ') || 'none'}) — pass one of those to --context`);
  }
  const cluster = clusters.get(String(selected.cluster));
  if (cluster === undefined) throw new UserError(`kubeconfig context '${contextName}' names cluster '${String(selected.cluster)}', which it does not define`);
  const user = users.get(String(selected.user)) ?? { value: {}, dir: cluster.dir };
  return { contextName, cluster: cluster.value, user: user.value, clusterDir: cluster.dir, userDir: user.dir };
}

/** Credential plugins (exec, auth-provider) and proxies are left to client-node. */
export function serverOf(selected: Selected): string {
  return text(selected.cluster.server);
}

export function needsClientNode(selected: Selected): boolean {
  return selected.user.exec != null || selected.user['auth-provider'] != null || selected.cluster['proxy-url'] != null;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function pem(data: unknown, path: unknown, dir: string): Buffer | undefined {
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
  if (typeof path === 'string' && path !== '') return readFileSync(isAbsolute(path) ? path : join(dir, path));
  return undefined;
}

/**
 * Node's own https with a keep-alive pool: fast to load (client-node's module graph costs about
 * half a second per command) and enough for kubeconfigs with certificates, tokens or passwords.
 */
export function createNodeTransport(selected: Selected, loadClientNode: () => Promise<KubeConfig>): Transport {
  const { cluster, user } = selected;
  const server = text(cluster.server);
  if (!/^https?:\/\//.test(server)) throw new UserError(`kubeconfig cluster of context '${selected.contextName}' has no valid server URL ('${server}')`);
  let tls;
  try {
    tls = {
      ca: pem(cluster['certificate-authority-data'], cluster['certificate-authority'], selected.clusterDir),
      cert: pem(user['client-certificate-data'], user['client-certificate'], selected.userDir),
      key: pem(user['client-key-data'], user['client-key'], selected.userDir),
    };
  } catch (err) {
    throw new UserError(`cannot read a certificate named by kubeconfig context '${selected.contextName}': ${innermostMessage(err)}`, { cause: err });
  }
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  const servername = typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined;
  const secure = server.startsWith('https:');
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, ...tls, rejectUnauthorized: !insecure, ...(servername === undefined ? {} : { servername }) })
    : new HttpAgent({ keepAlive: true });
  const authorization = (): string | undefined => {
    if (typeof user.token === 'string' && user.token !== '') return `Bearer ${user.token}`;
    if (typeof user.tokenFile === 'string' && user.tokenFile !== '') return `Bearer ${readFileSync(user.tokenFile, 'utf8').trim()}`;
    if (typeof user.username === 'string') return `Basic ${Buffer.from(`${user.username}:${text(user.password)}`).toString('base64')}`;
    return undefined;
  };
  return {
    server,
    contextName: selected.contextName,
    send(method, url, headers, body, signal) {
      const auth = authorization();
      return new Promise((resolve, reject) => {
        const request = (secure ? httpsRequest : httpRequest)(url, { method, agent, signal, headers: { ...headers, ...(auth === undefined ? {} : { Authorization: auth }), ...(body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) }) } }, (response: IncomingMessage) => {
          resolve({
            status: response.statusCode ?? 0,
            stream: () => response,
            text: async () => {
              const chunks: Buffer[] = [];
              for await (const chunk of response) chunks.push(chunk as Buffer);
              return Buffer.concat(chunks).toString('utf8');
            },
          });
        });
        request.on('error', reject);
        // Content-Length always: Node frames a DELETE body without it, and the server then reads
        // that body as the next request on the kept-alive connection.
        request.end(body);
      });
    },
    kubeConfig: loadClientNode,
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

interface Dispatcher {
  close(): Promise<void>;
}

/** client-node's fetch path: every credential plugin it supports, loaded only when needed. */
export function createClientNodeTransport(config: KubeConfig, clientNode: typeof ClientNode): Transport {
  const http = new clientNode.IsomorphicFetchHttpLibrary();
  // client-node makes a new connection pool per request; one is kept and reused.
  let dispatcher: Dispatcher | undefined;
  return {
    server: config.getCurrentCluster()?.server ?? '',
    contextName: config.getCurrentContext(),
    async send(method, url, headers, body, signal) {
      const context = new clientNode.RequestContext(url.toString(), method as never);
      await config.applySecurityAuthentication(context);
      const fresh = context.getDispatcher() as unknown as Dispatcher | undefined;
      if (dispatcher === undefined) {
        dispatcher = fresh;
      } else if (fresh !== undefined) {
        void fresh.close();
        context.setDispatcher(dispatcher as never);
      }
      for (const [key, value] of Object.entries(headers)) context.setHeaderParam(key, value);
      if (body !== undefined) context.setBody(body);
      context.setSignal(signal);
      const response = await http.send(context).toPromise();
      return {
        status: response.httpStatusCode,
        text: () => response.body.text(),
        stream: () => {
          const web = response.body.stream();
          return web === null ? Readable.from([]) : Readable.fromWeb(web as never);
        },
      };
    },
    kubeConfig: () => Promise.resolve(config),
    async close() {
      const current = dispatcher;
      dispatcher = undefined;
      await current?.close();
    },
  };
}
