import { createService, exitOnConfigError, serve } from '@tracelab/service-kit';
import { frontendSettings, mountFrontendRoutes } from './app.ts';

const settings = exitOnConfigError(() => frontendSettings(process.env));
const { config } = settings;
const service = createService({
  name: 'frontend',
  logLevel: config.LOG_LEVEL,
  pod: config.POD_NAME,
  namespace: config.POD_NAMESPACE,
  node: config.NODE_NAME,
});
mountFrontendRoutes(service, settings, process.env);
await serve(service, { port: config.PORT, shutdownGraceMs: config.SHUTDOWN_GRACE_MS });
