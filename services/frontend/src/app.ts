import { ConfigError, commonSchema, count, currentTraceId, loadConfig, milliseconds, oneOf, origin, sendJson } from '@tracelab/service-kit';
import type { ConfigOf, Env, Service } from '@tracelab/service-kit';
import { BackendClient, forwardedHeaders } from './backend-client.ts';
import { discover, urlFromServiceEnv } from './discovery.ts';
import type { DiscoveryMode } from './discovery.ts';
import { indexPage } from './page.ts';

export const frontendSchema = {
  ...commonSchema,
  BACKEND_URL: origin('http://backend:8080'),
  BACKEND_DISCOVERY: oneOf<DiscoveryMode>('dns', ['dns', 'env']),
  BACKEND_TIMEOUT_MS: milliseconds(2_000, 120_000),
  BACKEND_RETRIES: count(2, 5),
  BACKEND_CONNECTIONS: count(128, 4096),
};

export interface FrontendSettings {
  config: ConfigOf<typeof frontendSchema>;
  /** Where backend calls go: BACKEND_URL, or the Service env vars when BACKEND_DISCOVERY=env. */
  backendOrigin: URL;
}

export function frontendSettings(env: Env): FrontendSettings {
  const config = loadConfig(frontendSchema, env);
  if (config.BACKEND_CONNECTIONS === 0) throw new ConfigError('invalid BACKEND_CONNECTIONS="0": expected an integer 1-4096');
  if (config.BACKEND_DISCOVERY === 'dns') return { config, backendOrigin: config.BACKEND_URL };
  const fromEnv = urlFromServiceEnv(env);
  if (fromEnv === undefined) {
    throw new ConfigError('BACKEND_DISCOVERY=env needs BACKEND_SERVICE_HOST and BACKEND_SERVICE_PORT: Kubernetes sets them only for Services created before the pod; restart the pod or use BACKEND_DISCOVERY=dns');
  }
  return { config, backendOrigin: origin(fromEnv)('BACKEND_SERVICE_HOST/BACKEND_SERVICE_PORT', fromEnv) };
}

export function mountFrontendRoutes(service: Service, settings: FrontendSettings, env: Env): BackendClient {
  const { config, backendOrigin } = settings;
  const backend = new BackendClient({
    origin: backendOrigin,
    timeoutMs: config.BACKEND_TIMEOUT_MS,
    retries: config.BACKEND_RETRIES,
    connections: config.BACKEND_CONNECTIONS,
  });

  service.app.get('/', (_request, response) => {
    response.type('html').send(indexPage);
  });

  service.app.get('/api/hello', async (request, response) => {
    const result = await backend.get('/api/work', forwardedHeaders(request.headers));
    const traceId = currentTraceId();
    switch (result.kind) {
      case 'response':
        if (result.status >= 200 && result.status < 300) {
          sendJson(response, 200, { message: 'hello from frontend', pod: config.POD_NAME ?? null, backend: result.body, attempts: result.attempts, traceId });
        } else if (result.status >= 400 && result.status < 500) {
          sendJson(response, result.status, { error: 'backend rejected the request', backendStatus: result.status, backend: result.body, traceId });
        } else {
          sendJson(response, 502, { error: `backend answered ${result.status}`, backendStatus: result.status, backend: result.body, attempts: result.attempts, traceId });
        }
        return;
      case 'timeout':
        sendJson(response, 504, { error: `backend did not answer within ${config.BACKEND_TIMEOUT_MS}ms`, detail: result.message, attempts: result.attempts, traceId });
        return;
      case 'unreachable':
        sendJson(response, 502, { error: 'backend unreachable', detail: result.message, attempts: result.attempts, traceId });
        return;
    }
  });

  service.app.get('/api/discovery', async (_request, response) => {
    response.json(await discover(config.BACKEND_DISCOVERY, backendOrigin, env));
  });

  return backend;
}
