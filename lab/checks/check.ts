/** One row of `tracelab verify`'s table. */
export interface CheckResult {
  /** Stable id for --json readers: `requests`, `traces`, `metrics`, `autoscalers`, `mesh-spans`, … */
  readonly id: string;
  readonly title: string;
  /** not-installed: the check belongs to a layer the lab does not have; it is not applicable. */
  readonly status: 'pass' | 'fail' | 'not-installed';
  /** What was seen when it passed; the reason when it failed; what to install when not applicable. */
  readonly detail: string;
}

/** Kubelet waiting reasons that only say a container is on its way, not why it cannot start. */
export const onItsWay: ReadonlySet<string> = new Set(['ContainerCreating', 'PodInitializing']);

/** Where a check's data comes from: a base URL, or why there is none (the check then fails with that). */
export type Source = { readonly url: string } | { readonly unavailable: string };

export function passed(id: string, title: string, detail: string): CheckResult {
  return { id, title, status: 'pass', detail };
}

export function failed(id: string, title: string, detail: string): CheckResult {
  return { id, title, status: 'fail', detail };
}

/** The network error behind undici's "fetch failed" (ECONNREFUSED …), or the message. */
export function fetchFailure(err: unknown): string {
  let current: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return `${code}${current.message.includes(code) ? '' : `: ${current.message}`}`;
    if (current.message !== '') message = current.message;
    current = current.cause;
  }
  return message;
}

/** A GET answered with JSON; an HTTP error or a connection failure throws one line naming what. */
export async function getJson(what: string, url: string, signal?: AbortSignal): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: signal ?? AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(`${what} unreachable at ${new URL(url).origin}: ${fetchFailure(err)}`, { cause: err });
  }
  const text = await response.text();
  try {
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  } catch {
    throw new Error(`${what} at ${new URL(url).origin} answered HTTP ${response.status} with something other than JSON: ${text.slice(0, 120)}`);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
