import { X509Certificate } from 'node:crypto';
import { Readable } from 'node:stream';
import { IsomorphicFetchHttpLibrary, RequestContext, bufferFromFileOrString, type HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { UserError, exitCodes } from '../errors.ts';
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
  const certificate = clientCertificate(config);
  return {
    async send(method, url, headers, body, signal) {
      if (certificate !== undefined && certificate.notAfter.getTime() < Date.now()) {
        throw expiredCertificateError(config.getCurrentContext(), certificate);
      }
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

interface ClientCertificate {
  /** The file it was read from; undefined when the kubeconfig embeds it. */
  readonly file: string | undefined;
  readonly notAfter: Date;
}

/** The current user's client certificate, or undefined when there is none or it cannot be read. */
function clientCertificate(config: KubeConfig): ClientCertificate | undefined {
  const user = config.getCurrentUser();
  if (user === null) return undefined;
  try {
    const pem = bufferFromFileOrString(user.certFile, user.certData);
    return pem === null ? undefined : { file: user.certFile, notAfter: new X509Certificate(pem).validToDate };
  } catch {
    // A file that is gone or not a certificate: loading the credentials or the TLS handshake says so.
    return undefined;
  }
}

/**
 * An expired client certificate is caught before sending: the apiserver would answer 401, or 403
 * as system:anonymous, and name neither the certificate nor its date.
 */
function expiredCertificateError(contextName: string, certificate: ClientCertificate): UserError {
  const which = certificate.file === undefined ? '' : ` (${certificate.file})`;
  const date = certificate.notAfter.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return new UserError(
    `the client certificate of kubeconfig context '${contextName}'${which} expired on ${date} — renew it (a kubeadm cluster: \`kubeadm certs renew admin.conf\` on a control-plane node, then copy /etc/kubernetes/admin.conf again) or pass another --context`,
    { exitCode: exitCodes.unreachable },
  );
}
