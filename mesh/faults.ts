/**
 * Fault presets for calls to backend, injected by the callers' proxies (VirtualService `fault`),
 * so a person sees them in traces (a long proxy span, a 503 without a backend span) and dashboards.
 */
export const faultPresets = ['off', 'backend-delay', 'backend-abort'] as const;
export type FaultPreset = (typeof faultPresets)[number];

export interface HttpFault {
  readonly delay?: { readonly percentage: { readonly value: number }; readonly fixedDelay: string };
  readonly abort?: { readonly percentage: { readonly value: number }; readonly httpStatus: number };
}

/** What each preset does; `off` injects nothing. The delay stays below the route timeout (traffic.ts). */
export const faults: Readonly<Record<FaultPreset, { readonly fault: HttpFault | undefined; readonly effect: string }>> = {
  off: { fault: undefined, effect: 'no fault: calls to backend go through as they are' },
  'backend-delay': {
    fault: { delay: { percentage: { value: 50 }, fixedDelay: '2s' } },
    effect: "half of frontend's calls to backend wait 2 s before they leave frontend's proxy (a 2 s gap before backend's span in Jaeger, p95 latency up in Grafana)",
  },
  'backend-abort': {
    fault: { abort: { percentage: { value: 30 }, httpStatus: 503 } },
    effect: "30 % of frontend's calls to backend get 503 from frontend's own proxy (no backend span in those traces; frontend answers 502; errors up in Grafana)",
  },
};

/** The annotation on backend's VirtualService naming its preset, read back by later runs. */
export const faultAnnotation = 'tracelab.dev/fault';
