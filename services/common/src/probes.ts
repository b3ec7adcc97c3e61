/** Paths for kubelet probes and Prometheus: not traced, not in the RED histogram, not logged. */
export const probePaths: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);
