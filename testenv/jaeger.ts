import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { componentPath, freePorts, waitFor, waitForHttp } from './components.ts';
import { startProcess } from './processes.ts';

/** A span as Jaeger's internal query API (/api/traces) returns it. */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; type: string; value: unknown }[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; type: string; value: unknown }[] }>;
}

export interface JaegerHandle {
  /** OTLP/HTTP base URL; spans go to `${otlpHttpUrl}/v1/traces`. */
  readonly otlpHttpUrl: string;
  /** OTLP/gRPC endpoint as host:port. */
  readonly otlpGrpcEndpoint: string;
  /** Query API base URL (`/api/v3/...`, `/api/traces/{id}`). */
  readonly queryUrl: string;
  readonly pid: number;
  readonly logFile: string;
  /** The trace, or undefined when Jaeger does not know it (yet). */
  getTrace(traceId: string): Promise<JaegerTrace | undefined>;
  /** Poll getTrace until the trace has at least minSpans spans and spans of every service named. */
  waitForTrace(traceId: string, options?: { minSpans?: number; services?: readonly string[]; deadlineMs?: number }): Promise<JaegerTrace>;
  /** Recent traces of a service (internal API /api/traces?service=…). */
  findTraces(service: string, options?: { limit?: number; lookbackMs?: number }): Promise<JaegerTrace[]>;
  services(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface StartJaegerOptions {
  /**
   * Your own Jaeger v2 config. Its OTLP receiver and jaeger_query endpoints are overridden with
   * free loopback ports through `--set`, so they must be defined in it.
   * @default a generated all-in-one config: OTLP receiver, memory storage, query API
   */
  configFile?: string;
  /** Memory storage bound of the generated config. @default 10000 */
  maxTraces?: number;
  /** @default 30000 */
  startDeadlineMs?: number;
}

/** Start the cached Jaeger v2 binary on free loopback ports with memory storage. */
export async function startJaeger(options: StartJaegerOptions = {}): Promise<JaegerHandle> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tracelab-jaeger-'));
  const [otlpHttp, otlpGrpc, queryHttp, queryGrpc] = (await freePorts(4)) as [number, number, number, number];
  const endpoint = (port: number): string => `127.0.0.1:${port}`;
  const args: string[] = [];
  if (options.configFile === undefined) {
    const configFile = path.join(dir, 'jaeger.yaml');
    writeFileSync(configFile, renderJaegerConfig({
      otlpHttp: endpoint(otlpHttp),
      otlpGrpc: endpoint(otlpGrpc),
      queryHttp: endpoint(queryHttp),
      queryGrpc: endpoint(queryGrpc),
      maxTraces: options.maxTraces ?? 10_000,
    }));
    args.push(`--config=file:${configFile}`);
  } else {
    args.push(
      `--config=file:${path.resolve(options.configFile)}`,
      `--set=receivers.otlp.protocols.http.endpoint=${endpoint(otlpHttp)}`,
      `--set=receivers.otlp.protocols.grpc.endpoint=${endpoint(otlpGrpc)}`,
      `--set=extensions.jaeger_query.http.endpoint=${endpoint(queryHttp)}`,
      `--set=extensions.jaeger_query.grpc.endpoint=${endpoint(queryGrpc)}`,
      '--set=extensions.jaeger_query.enable_tracing=false',
    );
  }
  const proc = startProcess({ name: 'jaeger', command: componentPath('jaeger'), args, logFile: path.join(dir, 'jaeger.log') });
  const queryUrl = `http://${endpoint(queryHttp)}`;
  const otlpHttpUrl = `http://${endpoint(otlpHttp)}`;
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadlineMs = options.startDeadlineMs ?? 30_000;
    const abortIf = (): string | undefined => {
      const status = proc.exitStatus();
      return status === undefined ? undefined : `jaeger ${status}; log ${proc.logFile}:\n${proc.logTail()}`;
    };
    await waitForHttp(`${queryUrl}/api/v3/services`, { what: 'the Jaeger query API', deadlineMs, abortIf });
    // The OTLP receiver answers 405 to GET once it listens.
    await waitForHttp(`${otlpHttpUrl}/v1/traces`, { what: 'the Jaeger OTLP/HTTP receiver', deadlineMs, abortIf, accept: () => true });
  } catch (err) {
    await stop();
    throw err;
  }

  const getJson = async (url: string): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(url);
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  const getTrace = async (traceId: string): Promise<JaegerTrace | undefined> => {
    const { status, json } = await getJson(`${queryUrl}/api/traces/${encodeURIComponent(traceId)}`);
    if (status === 404) return undefined;
    if (status !== 200) throw new Error(`Jaeger GET /api/traces/${traceId}: HTTP ${status}`);
    return (json as { data: JaegerTrace[] | null }).data?.[0];
  };

  return {
    otlpHttpUrl,
    otlpGrpcEndpoint: endpoint(otlpGrpc),
    queryUrl,
    pid: proc.pid,
    logFile: proc.logFile,
    getTrace,
    waitForTrace: async (traceId, waitOptions = {}) => {
      const minSpans = waitOptions.minSpans ?? 1;
      const wanted = waitOptions.services ?? [];
      let seen = 0;
      let seenServices: string[] = [];
      const named = wanted.length > 0 ? ` from ${wanted.join(', ')}` : '';
      return waitFor(
        `trace ${traceId} with ${minSpans} span(s)${named} in Jaeger`,
        async () => {
          const trace = await getTrace(traceId);
          seen = trace?.spans.length ?? 0;
          seenServices = trace === undefined ? [] : [...new Set(trace.spans.map((span) => trace.processes[span.processID]?.serviceName ?? '?'))];
          const complete = trace !== undefined && seen >= minSpans && wanted.every((service) => seenServices.includes(service));
          return complete ? trace : undefined;
        },
        { deadlineMs: waitOptions.deadlineMs ?? 15_000, status: () => `${seen} span(s) from [${seenServices.join(', ')}] so far` },
      );
    },
    findTraces: async (service, findOptions = {}) => {
      const params = new URLSearchParams({
        service,
        limit: String(findOptions.limit ?? 100),
        lookback: `${Math.round((findOptions.lookbackMs ?? 3_600_000) / 1000)}s`,
      });
      const { status, json } = await getJson(`${queryUrl}/api/traces?${params.toString()}`);
      if (status !== 200) throw new Error(`Jaeger GET /api/traces?service=${service}: HTTP ${status}`);
      return (json as { data: JaegerTrace[] | null }).data ?? [];
    },
    services: async () => {
      const { status, json } = await getJson(`${queryUrl}/api/v3/services`);
      if (status !== 200) throw new Error(`Jaeger GET /api/v3/services: HTTP ${status}`);
      return (json as { services?: string[] }).services ?? [];
    },
    stop,
  };
}

interface JaegerConfigInput {
  otlpHttp: string;
  otlpGrpc: string;
  queryHttp: string;
  queryGrpc: string;
  maxTraces: number;
}

/** A minimal all-in-one Jaeger v2 config: OTLP in, memory storage, query API; no fixed ports. */
export function renderJaegerConfig(input: JaegerConfigInput): string {
  const config = {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query'],
      pipelines: {
        traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['jaeger_storage_exporter'] },
      },
      // level none: no internal metrics server on the fixed port 8888
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
    },
    extensions: {
      jaeger_storage: { backends: { memstore: { memory: { max_traces: input.maxTraces } } } },
      jaeger_query: {
        storage: { traces: 'memstore' },
        // self-tracing exports to the fixed localhost:4317 and stalls shutdown when nothing is there
        enable_tracing: false,
        http: { endpoint: input.queryHttp },
        grpc: { endpoint: input.queryGrpc },
      },
    },
    receivers: {
      otlp: { protocols: { http: { endpoint: input.otlpHttp }, grpc: { endpoint: input.otlpGrpc } } },
    },
    // short batch timeout so tests see spans quickly
    processors: { batch: { timeout: '100ms' } },
    exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
  };
  return `# generated by testenv/jaeger.ts\n${stringify(config)}`;
}
