import { failed, getJson, passed, sleep, type CheckResult, type Source } from './check.ts';

/** A trace as Jaeger's query API (`/api/traces/{id}`) returns it; only what the checks read. */
export interface JaegerTrace {
  traceID: string;
  spans: {
    spanID: string;
    operationName: string;
    references?: { refType: string; spanID: string }[] | null;
    tags?: { key: string; value: unknown }[] | null;
    processID: string;
  }[];
  processes: Record<string, { serviceName: string }>;
}

type Span = JaegerTrace['spans'][number];

export interface TraceShape {
  readonly spans: number;
  readonly services: readonly string[];
  /** Spans Envoy (istio-proxy) wrote: they carry Istio's tags. */
  readonly proxySpans: number;
}

const serviceOf = (trace: JaegerTrace, span: Span): string => trace.processes[span.processID]?.serviceName ?? '?';
const parentOf = (span: Span): string | undefined => (span.references ?? []).find((ref) => ref.refType === 'CHILD_OF')?.spanID;
const isProxySpan = (span: Span): boolean => (span.tags ?? []).some((tag) => tag.key === 'istio.canonical_service' || (tag.key === 'component' && tag.value === 'proxy'));

/**
 * Why the trace is not one frontend → backend chain, or undefined when it is: both services'
 * spans there, one root, and backend's spans descending from a frontend span.
 */
export function chainProblem(trace: JaegerTrace): string | undefined {
  const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
  const services = [...new Set(trace.spans.map((span) => serviceOf(trace, span)))].sort();
  for (const service of ['frontend', 'backend']) {
    if (!services.includes(service)) return `no ${service} span (the trace has ${trace.spans.length} spans of ${services.join(', ') || 'nothing'})`;
  }
  const roots = trace.spans.filter((span) => {
    const parent = parentOf(span);
    return parent === undefined || !byId.has(parent);
  });
  if (roots.length !== 1) {
    const orphans = roots.map((span) => `${serviceOf(trace, span)} "${span.operationName}"`).join(', ');
    return `not one parent chain: ${roots.length} spans have no parent in the trace (${orphans}) — a span was lost or a hop did not propagate traceparent`;
  }
  const backendSpans = trace.spans.filter((span) => serviceOf(trace, span) === 'backend');
  for (const span of backendSpans) {
    let current: Span | undefined = span;
    let fromFrontend = false;
    for (let depth = 0; current !== undefined && depth < trace.spans.length; depth++) {
      if (serviceOf(trace, current) === 'frontend') {
        fromFrontend = true;
        break;
      }
      const parent = parentOf(current);
      current = parent === undefined ? undefined : byId.get(parent);
    }
    if (!fromFrontend) return `backend's span "${span.operationName}" does not descend from a frontend span`;
  }
  return undefined;
}

export function shapeOf(trace: JaegerTrace): TraceShape {
  return {
    spans: trace.spans.length,
    services: [...new Set(trace.spans.map((span) => serviceOf(trace, span)))].sort(),
    proxySpans: trace.spans.filter(isProxySpan).length,
  };
}

export const tracesTitle = 'each request one trace in Jaeger';

export interface FoundTraces {
  readonly result: CheckResult;
  /** The traces found whole, by id (the mesh checks look at them again). */
  readonly traces: ReadonlyMap<string, JaegerTrace>;
}

/**
 * Looks up each trace by its id until it is one frontend → backend chain or the wait ends (spans
 * reach Jaeger in batches, seconds after the answer). Jaeger unreachable fails at once, with
 * `diagnose`'s account of why (no pods, scaled to 0).
 */
export async function checkTraces(
  jaeger: Source,
  traceIds: readonly string[],
  options: { waitMs: number; diagnose?: () => Promise<string | undefined> },
): Promise<FoundTraces> {
  const empty = new Map<string, JaegerTrace>();
  if ('unavailable' in jaeger) return { result: failed('traces', tracesTitle, jaeger.unavailable), traces: empty };
  if (traceIds.length === 0) return { result: failed('traces', tracesTitle, 'no request was answered with a trace id, so there is no trace to look for'), traces: empty };
  const found = new Map<string, JaegerTrace>();
  const problems = new Map<string, string>(traceIds.map((id) => [id, 'not in Jaeger']));
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    for (const id of traceIds.filter((traceId) => !found.has(traceId))) {
      let answer;
      try {
        answer = await getJson('Jaeger', `${jaeger.url}/api/traces/${id}`);
      } catch (err) {
        const why = await options.diagnose?.().catch(() => undefined);
        return { result: failed('traces', tracesTitle, `${err instanceof Error ? err.message : String(err)}${why === undefined ? '' : ` — ${why}`}`), traces: found };
      }
      const trace = answer.status === 200 ? (answer.body as { data?: JaegerTrace[] | null } | undefined)?.data?.[0] : undefined;
      if (trace === undefined) {
        problems.set(id, answer.status === 404 ? 'not in Jaeger' : `Jaeger answered HTTP ${answer.status}`);
        continue;
      }
      const problem = chainProblem(trace);
      if (problem === undefined) found.set(id, trace);
      else problems.set(id, problem);
    }
    if (found.size === traceIds.length || Date.now() >= deadline) break;
    await sleep(1_000);
  }
  if (found.size === traceIds.length) {
    const spans = [...found.values()].map((trace) => trace.spans.length);
    return { result: passed('traces', tracesTitle, `${found.size} of ${traceIds.length} found, frontend → backend in one parent chain (${Math.min(...spans)}–${Math.max(...spans)} spans)`), traces: found };
  }
  const missing = traceIds.filter((id) => !found.has(id));
  const first = missing[0] ?? '';
  const detail = `${missing.length} of ${traceIds.length} not whole after ${Math.round(options.waitMs / 1000)} s: trace ${first} ${problems.get(first) ?? ''}`;
  return { result: failed('traces', tracesTitle, detail), traces: found };
}
