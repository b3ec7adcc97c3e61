/** How service code reaches the SDK the preload started, without importing (and starting) it. */
export interface Telemetry {
  readonly enabled: boolean;
  /** Flushes queued spans and stops exporting. Safe to call more than once. */
  shutdown(): Promise<void>;
}

const telemetryKey = Symbol.for('tracelab.telemetry');
const slot = globalThis as Record<symbol, Telemetry | undefined>;

/** The SDK started by the preload, or a no-op when tracing is disabled or not preloaded. */
export function currentTelemetry(): Telemetry {
  return slot[telemetryKey] ?? { enabled: false, shutdown: () => Promise.resolve() };
}

export function setTelemetry(telemetry: Telemetry): void {
  slot[telemetryKey] = telemetry;
}
