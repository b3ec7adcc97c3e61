import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';
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

type Destination = DestinationStream & { flushSync(): void };
const destinations = new WeakMap<Logger, Destination>();

/** Lines wait at most this long in the buffer. */
const flushIntervalMs = 200;

/**
 * One JSON object per line on stdout. Lines are buffered (up to 8 KiB or 200 ms) and written in
 * one syscall: a write per request line costs more CPU than the rest of the logging. The write is
 * synchronous (pino's default): an asynchronous one hands each 8 KiB to a libuv thread, and the
 * hand-off cost more than the write (7.2 vs 4.7 µs CPU per line, 200k lines to a file).
 * `flushLogs()` before exiting.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base: Record<string, string> = { service: options.service };
  if (options.pod) base.pod = options.pod;
  if (options.namespace) base.namespace = options.namespace;
  if (options.node) base.node = options.node;
  const destination = pino.destination({ dest: 1, sync: true, minLength: 8 * 1024 }) as Destination;
  const logger = pino(
    {
      level: options.level,
      base,
      // `time` stays epoch milliseconds: formatting an ISO date per line was 2 % of the backend's CPU.
      formatters: { level: (label) => ({ level: label }) },
      mixin: (fields) => ('trace_id' in fields ? {} : activeSpanIds()),
    },
    destination,
  );
  destinations.set(logger, destination);
  setInterval(() => {
    logger.flush();
  }, flushIntervalMs).unref();
  return logger;
}

/** Writes out buffered lines now, synchronously: call before process.exit(). */
export function flushLogs(logger: Logger): void {
  try {
    destinations.get(logger)?.flushSync();
  } catch {
    // stdout already closed: nothing left to save.
  }
}
