import { pino } from 'pino';
import type { Logger } from 'pino';
import { trace } from '@opentelemetry/api';

export type { Logger } from 'pino';

export interface LoggerOptions {
  service: string;
  level: string;
  pod?: string | undefined;
  namespace?: string | undefined;
  node?: string | undefined;
}

/** Ids of the span active where the log call happens, so any line can be joined to its trace. */
function activeSpanIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * One JSON object per line on stdout. Writes are asynchronous (a blocking write per request
 * would dominate the request cost); `flushLogs()` before exiting.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base: Record<string, string> = { service: options.service };
  if (options.pod) base.pod = options.pod;
  if (options.namespace) base.namespace = options.namespace;
  if (options.node) base.node = options.node;
  return pino(
    {
      level: options.level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: (fields) => ('trace_id' in fields ? {} : activeSpanIds()),
    },
    pino.destination({ dest: 1, sync: false }),
  );
}

export function flushLogs(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // stdout already closed: nothing left to save.
  }
}
