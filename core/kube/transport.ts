import { Readable } from 'node:stream';
import { IsomorphicFetchHttpLibrary, RequestContext, type HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { UserError } from '../errors.ts';
import { innermostMessage } from './errors.ts';

export interface RawResponse {
  readonly status: number;
  text(): Promise<string>;
  stream(): Readable;
}

/** How requests reach the API server: TLS, credentials, one connection pool. */
export interface Transport {
  send(method: HttpMethod, url: URL, headers: Record<string, string>, body: string | undefined, signal: AbortSignal): Promise<RawResponse>;
  close(): Promise<void>;
}

interface Dispatcher {
  close(): Promise<void>;
}

/**
 * client-node's request path: its KubeConfig authenticates every request (certificates, tokens,
 * exec and auth-provider plugins, proxies) and its HTTP library sends it.
 */
export function createClientNodeTransport(config: KubeConfig): Transport {
  const http = new IsomorphicFetchHttpLibrary();
  // client-node makes a new connection pool per request; one is kept and reused.
  let dispatcher: Dispatcher | undefined;
  return {
    async send(method, url, headers, body, signal) {
      const context = new RequestContext(url.toString(), method);
      try {
        await config.applySecurityAuthentication(context);
      } catch (err) {
        // A certificate file that is gone, a credential plugin that fails: nothing to retry.
        throw new UserError(`cannot load the credentials of kubeconfig context '${config.getCurrentContext()}': ${innermostMessage(err)}`, { cause: err });
      }
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
    async close() {
      const current = dispatcher;
      dispatcher = undefined;
      await current?.close();
    },
  };
}
