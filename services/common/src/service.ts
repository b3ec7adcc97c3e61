import express from 'express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Express, Request, Response } from 'express';
import { trace } from '@opentelemetry/api';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { createServiceMetrics, methodLabel, observeRequest } from './metrics.ts';
import type { ServiceMetrics } from './metrics.ts';
import { probePaths } from './probes.ts';

export interface ServiceOptions {
  /** `frontend`, `backend`: the `service` label on metrics and logs. */
  name: string;
  logLevel: string;
  pod?: string | undefined;
  namespace?: string | undefined;
  node?: string | undefined;
}

export interface Service {
  readonly name: string;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Express app with /healthz, /readyz, /metrics mounted; requests are logged and observed by requestListener(). */
  readonly app: Express;
  /** Cleared by serve() on SIGTERM: /readyz turns 503 and responses say `Connection: close`. */
  ready: boolean;
  requestsInFlight: number;
}

/** The trace id of the request being handled, for error bodies a user can look up in Jaeger. */
export function currentTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && context.traceFlags !== 0 ? context.traceId : undefined;
}

function routeLabel(request: Request): string {
  const path = (request as { route?: { path?: unknown } }).route?.path;
  // Express sets request.route only when a route matched; patterns are strings in our services.
  return typeof path === 'string' ? `${request.baseUrl}${path}` : 'unmatched';
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The server's request listener: logs and observes every request but the probes, then hands it to
 * express. Done here rather than as an express middleware: one router layer less per request.
 */
export function requestListener(service: Service): RequestListener {
  const { app } = service;
  return (incoming: IncomingMessage, response: ServerResponse) => {
    if (probePaths.has(pathOf(incoming.url))) {
      app(incoming, response);
      return;
    }
    const request = incoming as Request;
    const started = process.hrtime.bigint();
    const spanContext = trace.getActiveSpan()?.spanContext();
    service.requestsInFlight++;
    if (!service.ready) response.setHeader('connection', 'close');
    response.once('close', () => {
      service.requestsInFlight--;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(request);
      const status = response.statusCode;
      observeRequest(
        service.metrics,
        { route, method: methodLabel(request.method), status: String(status) },
        seconds,
        spanContext?.traceId,
      );
      service.logger.info({
        trace_id: spanContext?.traceId,
        span_id: spanContext?.spanId,
        request_id: request.headers['x-request-id'],
        method: request.method,
        path: pathOf(request.originalUrl),
        route,
        status,
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        aborted: response.writableFinished ? undefined : true,
      }, 'request');
    });
    app(incoming, response);
  };
}

/**
 * `response.json()` without express's extra work (content-type lookup, a Buffer copy to size the
 * body, freshness check): Node sets Content-Length itself when the body is written in one end().
 */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.statusCode = status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.end(JSON.stringify(body));
}

/** Last handler: never leaks a stack trace, always says which trace to look at. */
export function jsonErrorHandler(service: Service): ErrorRequestHandler {
  return (err: unknown, _request, response: Response, next) => {
    if (response.headersSent) {
      next(err);
      return;
    }
    service.logger.error({ err }, 'unhandled error');
    response.status(500).json({ error: 'internal error', traceId: currentTraceId() });
  };
}

export function createService(options: ServiceOptions): Service {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const service: Service = {
    name: options.name,
    logger: createLogger({ service: options.name, level: options.logLevel, pod: options.pod, namespace: options.namespace, node: options.node }),
    metrics: createServiceMetrics(options.name, () => service.requestsInFlight),
    app,
    ready: true,
    requestsInFlight: 0,
  };
  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });
  app.get('/readyz', (_request, response) => {
    response.status(service.ready ? 200 : 503).json({ ready: service.ready });
  });
  app.get('/metrics', async (_request, response) => {
    const body = await service.metrics.registry.metrics();
    response.type(service.metrics.registry.contentType).send(body);
  });
  return service;
}
