import { failed, fetchFailure, passed, type CheckResult, type Source } from './check.ts';

/** What one GET /api/hello through the frontend gave. */
export interface RequestOutcome {
  /** HTTP status; undefined when no answer came. */
  readonly status: number | undefined;
  /** The trace id the frontend put into its answer (it does so for errors too). */
  readonly traceId: string | undefined;
  /** Why it failed: the frontend's own error line, or the connection error. */
  readonly error: string | undefined;
}

interface HelloAnswer {
  traceId?: unknown;
  error?: unknown;
  detail?: unknown;
  backendStatus?: unknown;
}

/** One request at a time (the lab is small; the point is each trace, not load). */
export async function sendRequests(frontend: string, count: number, timeoutMs = 15_000): Promise<RequestOutcome[]> {
  const outcomes: RequestOutcome[] = [];
  for (let index = 0; index < count; index++) outcomes.push(await sendRequest(`${frontend}/api/hello`, timeoutMs));
  return outcomes;
}

async function sendRequest(url: string, timeoutMs: number): Promise<RequestOutcome> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { 'x-request-id': `tracelab-verify-${crypto.randomUUID()}` }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    return { status: undefined, traceId: undefined, error: `no answer from the frontend: ${fetchFailure(err)}` };
  }
  const text = await response.text();
  let answer: HelloAnswer = {};
  try {
    answer = JSON.parse(text) as HelloAnswer;
  } catch {
    // not the frontend's JSON (a proxy's error page): reported below by status
  }
  const traceId = typeof answer.traceId === 'string' && /^[0-9a-f]{32}$/.test(answer.traceId) ? answer.traceId : undefined;
  if (response.status === 200) return { status: 200, traceId, error: traceId === undefined ? 'the answer carries no trace id (is tracing disabled in the frontend?)' : undefined };
  const said = [answer.error, answer.detail].filter((part): part is string => typeof part === 'string' && part !== '').join(': ');
  return { status: response.status, traceId, error: `frontend answered ${response.status}${said === '' ? `: ${text.slice(0, 120)}` : `: ${said}`}` };
}

/** The most common failure first, with how many requests it hit. */
function summarizeErrors(outcomes: readonly RequestOutcome[]): string {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) if (outcome.error !== undefined) counts.set(outcome.error, (counts.get(outcome.error) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([error, times]) => `${times}× ${error}`)
    .join('; ');
}

export const requestsTitle = 'requests through the frontend';

/**
 * Every request answered 200 with a trace id. A failure names what the frontend said and, through
 * `diagnose` (the cluster's view of backend, e.g. "Service tracelab-demo/backend has no ready
 * endpoints: …"), why.
 */
export async function checkRequests(
  frontend: Source,
  count: number,
  diagnose: () => Promise<string | undefined> = () => Promise.resolve(undefined),
): Promise<{ result: CheckResult; outcomes: RequestOutcome[] }> {
  if ('unavailable' in frontend) return { result: failed('requests', requestsTitle, frontend.unavailable), outcomes: [] };
  const outcomes = await sendRequests(frontend.url, count);
  const bad = outcomes.filter((outcome) => outcome.error !== undefined);
  if (bad.length === 0) return { result: passed('requests', requestsTitle, `${count} of ${count} answered 200 with a trace id`), outcomes };
  const why = await diagnose().catch((err: unknown) => `(could not ask the cluster why: ${err instanceof Error ? err.message : String(err)})`);
  const detail = `${bad.length} of ${count} failed: ${summarizeErrors(bad)}${why === undefined ? '' : ` — ${why}`}`;
  return { result: failed('requests', requestsTitle, detail), outcomes };
}
