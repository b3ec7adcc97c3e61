import { uiSpecs, type UiKey } from '../lab/ui.ts';

/** Where `npm run ui` serves a UI on this machine by default (its local ports are lab/ui.ts's, the one place they are set). */
function uiUrl(key: UiKey): string {
  const spec = uiSpecs.find((candidate) => candidate.key === key);
  if (spec === undefined) throw new Error(`lab/ui.ts has no UI '${key}'`);
  return `http://localhost:${String(spec.localPort)}`;
}

export const uiUrls = { grafana: uiUrl('grafana'), jaeger: uiUrl('jaeger') } as const;

/** Dashboards provisioned by the monitoring layer (monitoring/grafana-dashboards.ts: uid `tracelab-<name>`). */
export const loadDashboards = { autoscaling: 'tracelab-autoscaling', services: 'tracelab-services' } as const;

export interface RunWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** Grafana's dashboard over the window (epoch milliseconds), and Jaeger's search for frontend's traces in it (microseconds). */
export function runLinks(window: RunWindow): { label: string; url: string }[] {
  const range = `from=${String(window.startMs)}&to=${String(window.endMs)}`;
  const jaeger = new URLSearchParams({
    service: 'frontend',
    start: String(window.startMs * 1000),
    end: String(window.endMs * 1000),
    lookback: 'custom',
    limit: '100',
  });
  return [
    { label: 'Grafana, autoscaling', url: `${uiUrls.grafana}/d/${loadDashboards.autoscaling}?${range}` },
    { label: 'Grafana, services (RED)', url: `${uiUrls.grafana}/d/${loadDashboards.services}?${range}` },
    { label: 'Jaeger, traces of the run', url: `${uiUrls.jaeger}/search?${jaeger.toString()}` },
  ];
}
