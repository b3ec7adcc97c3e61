import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { flushLogs } from './logger.ts';
import type { Service } from './service.ts';
import { jsonErrorHandler, requestListener } from './service.ts';
import { currentTelemetry } from './telemetry-handle.ts';

/** Time kept back from the grace period for logging and exiting after the span flush. */
const flushMarginMs = 250;

export interface ServeOptions {
  port: number;
  /** Hard deadline after SIGTERM; past it the process exits 1 even with requests still running. */
  shutdownGraceMs: number;
}

/**
 * Listens, and on SIGTERM/SIGINT drains: readiness off, stop accepting, let in-flight requests
 * finish (keep-alive connections close after their current response), flush spans, exit 0.
 */
export async function serve(service: Service, options: ServeOptions): Promise<Server> {
  service.app.use(jsonErrorHandler(service));
  const server = createServer(requestListener(service));
  server.listen(options.port);
  await once(server, 'listening');
  service.logger.info({ port: options.port, tracing: currentTelemetry().enabled }, 'listening');

  const drain = async (signal: string): Promise<void> => {
    if (!service.ready) return;
    service.ready = false;
    const drainStarted = Date.now();
    service.logger.info({ signal, in_flight: service.requestsInFlight, grace_ms: options.shutdownGraceMs }, 'draining');
    const deadline = setTimeout(() => {
      service.logger.error({ in_flight: service.requestsInFlight }, `shutdown grace period of ${options.shutdownGraceMs}ms exceeded`);
      flushLogs(service.logger);
      process.exit(1);
    }, options.shutdownGraceMs);
    // Connections that finish a request started before draining go idle without `Connection: close`.
    const idleCloser = setInterval(() => {
      server.closeIdleConnections();
    }, 25);
    await new Promise<void>((resolve) => server.close(() => {
      resolve();
    }));
    clearInterval(idleCloser);
    // An unreachable collector must not eat the grace period: flush with what is left of it.
    const flushBudgetMs = Math.max(0, drainStarted + options.shutdownGraceMs - Date.now() - flushMarginMs);
    const flush = await Promise.race([
      currentTelemetry().shutdown().then(() => 'flushed' as const, (err: unknown) => {
        service.logger.warn({ err }, 'could not flush spans');
        return 'failed' as const;
      }),
      sleep(flushBudgetMs, 'timed out' as const, { ref: false }),
    ]);
    if (flush === 'timed out') service.logger.warn({ budget_ms: flushBudgetMs }, 'spans not flushed before the grace period');
    clearTimeout(deadline);
    service.logger.info('stopped');
    flushLogs(service.logger);
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void drain(signal));
  }
  return server;
}
