import { createService, loadConfigOrExit, serve } from '@tracelab/service-kit';
import { backendSchema, mountBackendRoutes } from './app.ts';

const config = loadConfigOrExit(backendSchema);
const service = createService({
  name: 'backend',
  logLevel: config.LOG_LEVEL,
  pod: config.POD_NAME,
  namespace: config.POD_NAMESPACE,
  node: config.NODE_NAME,
});
mountBackendRoutes(service, config);
await serve(service, { port: config.PORT, shutdownGraceMs: config.SHUTDOWN_GRACE_MS });
