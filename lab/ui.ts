import type { V1Service } from '@kubernetes/client-node';
import type { GlobalOptions } from '../core/context.ts';
import { UserError } from '../core/errors.ts';
import type { Layer } from '../core/layer.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { upLayer, withKube } from '../core/kube/commands.ts';
import { formatDuration, parseDuration } from '../core/kube/duration.ts';
import { forwardToService, resolveServiceTarget, type Forward } from '../core/kube/port-forward.ts';
import { explainKubeError } from '../core/kube/report.ts';
import { headlampNamespace, headlampService, headlampServicePort, headlampViewer } from '../headlamp/address.ts';
import { headlampLayer } from '../headlamp/layer.ts';
import { requestViewerToken, tokenTtlBounds } from '../headlamp/token.ts';
import { namespaces } from '../monitoring/common.ts';
import { grafanaAdminUser, readGrafanaAdminPassword } from '../monitoring/grafana-admin.ts';
import { grafanaPort } from '../monitoring/grafana.ts';
import { defaultJaegerPorts } from '../monitoring/jaeger.ts';
import { prometheusPort } from '../monitoring/prometheus.ts';

export type UiKey = 'grafana' | 'jaeger' | 'prometheus' | 'headlamp' | 'kiali';

/** One web UI of the lab: the Service `ui` forwards to, its fixed local port, and what installs it. */
export interface UiSpec {
  readonly key: UiKey;
  readonly title: string;
  readonly namespace: string;
  readonly service: string;
  /** The Service's port (the forward maps it to the container port behind it). */
  readonly servicePort: number;
  /** The local port it gets unless --port-offset or --<key>-port says otherwise. */
  readonly localPort: number;
  /** What a person runs to install it. */
  readonly install: string;
}

export const uiSpecs: readonly UiSpec[] = [
  { key: 'grafana', title: 'Grafana', namespace: namespaces.monitoring, service: 'grafana', servicePort: grafanaPort, localPort: 3000, install: 'tracelab deploy monitoring --grafana true' },
  { key: 'jaeger', title: 'Jaeger', namespace: namespaces.jaeger, service: 'jaeger-query', servicePort: defaultJaegerPorts.queryHttp, localPort: 16686, install: 'tracelab deploy monitoring' },
  { key: 'prometheus', title: 'Prometheus', namespace: namespaces.monitoring, service: 'prometheus', servicePort: prometheusPort, localPort: 9090, install: 'tracelab deploy monitoring' },
  { key: 'headlamp', title: 'Headlamp', namespace: headlampNamespace, service: headlampService, servicePort: headlampServicePort, localPort: 4466, install: 'tracelab ui --headlamp' },
  // The mesh layer installs Kiali into istio-system; a Kiali installed otherwise is found the same way.
  { key: 'kiali', title: 'Kiali', namespace: 'istio-system', service: 'kiali', servicePort: 20001, localPort: 20001, install: 'tracelab up mesh --kiali true' },
];

export interface UiFlags {
  readonly portOffset: string;
  /** `--grafana-port 3300` etc., as given. */
  readonly ports: Readonly<Partial<Record<UiKey, string>>>;
  readonly password: boolean;
  readonly headlamp: boolean;
  readonly tokenTtl: string;
  /** Deadline of the Headlamp install (--headlamp). */
  readonly timeout: string;
}

export const uiDefaults = { portOffset: '0', tokenTtl: '1h', timeout: '5m' } as const;

function parsePort(text: string, flag: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) throw new UserError(`${flag} '${text}' is not a port from 1 to 65535 — pass e.g. ${flag} 8080`);
  return port;
}

/** The local port of each UI: its fixed default plus --port-offset, or its own --<key>-port. Pure. */
export function planLocalPorts(flags: Pick<UiFlags, 'portOffset' | 'ports'>): Record<UiKey, number> {
  const offset = /^\d+$/.test(flags.portOffset) ? Number(flags.portOffset) : Number.NaN;
  const highest = Math.max(...uiSpecs.map((spec) => spec.localPort));
  if (!(offset >= 0 && offset <= 65_535 - highest)) {
    throw new UserError(`--port-offset '${flags.portOffset}' is not a whole number from 0 to ${String(65_535 - highest)} — pass e.g. --port-offset 10000 (Grafana on 13000, Jaeger on 26686, …)`);
  }
  const ports = {} as Record<UiKey, number>;
  for (const spec of uiSpecs) {
    const given = flags.ports[spec.key];
    ports[spec.key] = given === undefined ? spec.localPort + offset : parsePort(given, `--${spec.key}-port`);
  }
  for (const spec of uiSpecs) {
    const other = uiSpecs.find((o) => o.key !== spec.key && ports[o.key] === ports[spec.key]);
    if (other !== undefined) throw new UserError(`${spec.title} and ${other.title} would both listen on local port ${String(ports[spec.key])} — give one of them another with --${spec.key}-port or --${other.key}-port`);
  }
  return ports;
}

/** --token-ttl in seconds, within what the API server accepts and a sign-in token should live. */
export function parseTokenTtl(text: string): number {
  const seconds = Math.round(parseDuration(text, '--token-ttl') / 1000);
  if (seconds < tokenTtlBounds.minSeconds || seconds > tokenTtlBounds.maxSeconds) {
    throw new UserError(`--token-ttl '${text}' must be from 10m to 24h (the API server issues no token shorter than 10 minutes) — pass e.g. --token-ttl 1h`);
  }
  return seconds;
}

/** What the cluster has of a UI: its Service (so its layer is installed), and the pod a forward would reach now. */
export interface UiState {
  readonly spec: UiSpec;
  readonly installed: boolean;
  /** `namespace/pod:port` a connection goes to now. */
  readonly target?: string;
  /** Why no pod would answer now (it is installed but not ready). */
  readonly problem?: string;
}

/** Which UIs are installed (their Service exists) and where a forward to each would go now. Reads only. */
export async function findUis(kube: KubeClient): Promise<UiState[]> {
  return Promise.all(
    uiSpecs.map(async (spec): Promise<UiState> => {
      const ref = { apiVersion: 'v1', kind: 'Service', name: spec.service, namespace: spec.namespace };
      let service: V1Service | undefined;
      try {
        service = await kube.get<V1Service>(ref);
      } catch (err) {
        throw explainKubeError('look for', ref, err);
      }
      if (service === undefined) return { spec, installed: false };
      try {
        const target = await resolveServiceTarget(kube, spec.namespace, spec.service, spec.servicePort);
        return { spec, installed: true, target: `${spec.namespace}/${target.pod}:${String(target.port)}` };
      } catch (err) {
        return { spec, installed: true, problem: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

/** The table `ui` prints: one row per UI, a URL for each forwarded one, the install command for the others. */
export function formatUiTable(rows: readonly { title: string; url?: string | undefined; note: string }[]): string[] {
  const width = Math.max(...rows.map((row) => row.title.length));
  const urlWidth = Math.max(...rows.map((row) => (row.url ?? 'not installed').length));
  return rows.map((row) => `${row.title.padEnd(width)}  ${(row.url ?? 'not installed').padEnd(urlWidth)}  ${row.note}`.trimEnd());
}

export interface UiContext {
  /** Where the table, the password and the token go (stdout): what the command is run for. */
  readonly print: (line: string) => void;
  readonly layers: readonly Layer<unknown>[];
}

function noteFor(state: UiState, headlampTtl: string): string {
  if (state.problem !== undefined) return `${state.problem} — it answers once a pod is ready`;
  if (state.spec.key === 'grafana') return `user ${grafanaAdminUser}; \`tracelab ui --password\` prints the password`;
  if (state.spec.key === 'headlamp') return `sign in with the token below (${headlampNamespace}/${headlampViewer}, read-only, valid ${headlampTtl})`;
  return '';
}

async function openForwards(kube: KubeClient, states: readonly UiState[], ports: Record<UiKey, number>, globals: GlobalOptions): Promise<Map<UiKey, Forward>> {
  const forwards = new Map<UiKey, Forward>();
  try {
    for (const state of states.filter((s) => s.installed)) {
      const { spec } = state;
      let lastError: string | undefined;
      const forward = await forwardToService(kube, spec.namespace, spec.service, spec.servicePort, {
        localPort: ports[spec.key],
        onTarget: (pod, previous) => {
          lastError = undefined;
          if (previous === undefined) globals.output.detail(`${spec.title} → pod ${spec.namespace}/${pod}`);
          else globals.output.info(`↻ ${spec.title}: now forwarding to pod ${spec.namespace}/${pod} (replaces ${spec.namespace}/${previous})`);
        },
        // Once per cause, not once per browser connection.
        onError: (message) => {
          if (message === lastError) return;
          lastError = message;
          globals.output.warn(`${spec.title}: ${message} — trying again on the next connection`);
        },
      }).catch((err: unknown) => {
        const code = (err as { code?: string }).code;
        const port = String(ports[spec.key]);
        if (code === 'EADDRINUSE') throw new UserError(`local port ${port} for ${spec.title} is already in use by another program — pass --${spec.key}-port <port> or --port-offset <n>`, { cause: err });
        if (code === 'EACCES') throw new UserError(`local port ${port} for ${spec.title} needs privileges this user lacks — pass --${spec.key}-port <port> above 1023`, { cause: err });
        throw err;
      });
      forwards.set(spec.key, forward);
    }
    return forwards;
  } catch (err) {
    await closeAll(forwards);
    throw err;
  }
}

async function closeAll(forwards: Map<UiKey, Forward>): Promise<void> {
  await Promise.all([...forwards.values()].map((forward) => forward.close()));
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else
      signal.addEventListener('abort', () => {
        resolve();
      }, { once: true });
  });
}

/**
 * `tracelab ui`: installs Headlamp first when asked (the deploy engine), finds which UIs are
 * installed, forwards a fixed local port to each, prints one table of URLs (the Grafana password
 * and a short-lived Headlamp token with them), and keeps forwarding — to the replacement when a
 * pod is replaced — until Ctrl-C, which closes every port and ends the command normally (exit 0):
 * Ctrl-C is how this command is meant to end, not an interruption of unfinished work.
 */
export async function runUi(globals: GlobalOptions, flags: UiFlags, context: UiContext): Promise<void> {
  const ports = planLocalPorts(flags);
  const ttlSeconds = parseTokenTtl(flags.tokenTtl);
  const ttl = formatDuration(ttlSeconds * 1000);
  const signal = globals.signal;
  if (signal === undefined) throw new Error('tracelab ui needs an abort signal (the CLI gives it Ctrl-C)');
  if (flags.headlamp) await upLayer(globals, headlampLayer, {}, { timeout: flags.timeout, wait: true }, context.layers);
  if (signal.aborted) return;

  await withKube(globals, async (kube) => {
    const states = await findUis(kube);
    const grafana = states.find((s) => s.spec.key === 'grafana');
    if (flags.password && grafana?.installed !== true) {
      throw new UserError(`Grafana is not installed, so it has no password — install it with \`${grafana?.spec.install ?? 'tracelab deploy monitoring'}\``);
    }
    const headlampInstalled = states.some((s) => s.spec.key === 'headlamp' && s.installed);
    const row = (state: UiState, url: string | undefined) => ({
      title: state.spec.title,
      url,
      note: state.installed ? noteFor(state, ttl) : flags.headlamp && globals.dryRun && state.spec.key === 'headlamp' ? 'would be installed by --headlamp' : `install it with ${state.spec.install}`,
    });

    if (globals.dryRun) {
      for (const line of formatUiTable(states.map((s) => row(s, s.installed ? `http://127.0.0.1:${String(ports[s.spec.key])}` : undefined)))) context.print(line);
      if (flags.password) context.print(`Grafana password: ${(await readGrafanaAdminPassword(kube)).password}`);
      if (headlampInstalled || flags.headlamp) globals.output.info(`would request a ${ttl} sign-in token for ${headlampNamespace}/${headlampViewer}`);
      globals.output.info('dry run: nothing forwarded');
      return;
    }
    if (!states.some((s) => s.installed)) {
      for (const line of formatUiTable(states.map((s) => row(s, undefined)))) context.print(line);
      throw new UserError('no UI is installed, so there is nothing to forward — install the monitoring layer with `tracelab deploy monitoring` (or Headlamp with `tracelab ui --headlamp`)');
    }

    const forwards = await openForwards(kube, states, ports, globals);
    try {
      const password = flags.password ? (await readGrafanaAdminPassword(kube)).password : undefined;
      const token = headlampInstalled ? await requestViewerToken(kube, ttlSeconds) : undefined;
      for (const line of formatUiTable(states.map((s) => row(s, forwards.has(s.spec.key) ? `http://127.0.0.1:${String(forwards.get(s.spec.key)?.port)}` : undefined)))) context.print(line);
      if (password !== undefined) context.print(`Grafana password (user ${grafanaAdminUser}): ${password}`);
      if (token !== undefined) {
        context.print(`Headlamp token (${headlampNamespace}/${headlampViewer}, expires ${token.expires}):`);
        context.print(token.token);
      }
      globals.output.info(`forwarding ${String(forwards.size)} UI${forwards.size === 1 ? '' : 's'} — Ctrl-C to stop`);
      await untilAborted(signal);
    } finally {
      await closeAll(forwards);
    }
    globals.output.info(`closed ${String(forwards.size)} port-forward${forwards.size === 1 ? '' : 's'}`);
  });
}
