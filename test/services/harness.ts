import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForHttp } from '../../testenv/components.ts';
import { startProcess } from '../../testenv/processes.ts';
import type { ManagedProcess } from '../../testenv/processes.ts';

export type ServiceName = 'frontend' | 'backend';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function serviceDir(service: ServiceName): string {
  return path.join(repoRoot, 'services', service);
}

/**
 * The one start command, from the service's package.json `scripts.start`. The Dockerfile's CMD
 * must equal it (dockerfile.test.ts), and every test starts services with it.
 */
export function startCommand(service: ServiceName): string[] {
  const pkg = JSON.parse(readFileSync(path.join(serviceDir(service), 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const start = pkg.scripts?.start;
  if (start === undefined) throw new Error(`services/${service}/package.json has no scripts.start`);
  return start.split(' ');
}

export interface RunningService {
  readonly name: ServiceName;
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /** Parsed JSON log lines written so far. */
  logLines(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface StartServiceOptions {
  env?: Record<string, string>;
  /** Defaults to a free loopback port. */
  port?: number;
}

/** Starts a service as a real process (the image's command, Node from this test's PATH) and waits for /readyz. */
export async function startService(name: ServiceName, options: StartServiceOptions = {}): Promise<RunningService> {
  const port = options.port ?? (await freePort());
  const [command, ...args] = startCommand(name);
  if (command !== 'node') throw new Error(`unexpected start command ${String(command)}`);
  const proc = startProcess({
    name,
    command: process.execPath,
    args,
    cwd: serviceDir(name),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      // Nothing listens there: tests that look at spans pass a Jaeger (exportTo). The short timeout
      // keeps the span flush at shutdown from retrying an unreachable collector for seconds.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      ...options.env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`, {
      what: `${name} readiness`,
      deadlineMs: 30_000,
      intervalMs: 100,
      abortIf: () => {
        const status = proc.exitStatus();
        return status === undefined ? undefined : `${name} ${status}:\n${proc.logTail()}`;
      },
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    name,
    url,
    port,
    process: proc,
    logLines: () => parseLogLines(readFileSync(proc.logFile, 'utf8')),
    stop: () => proc.stop(15_000),
  };
}

export function parseLogLines(text: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut by a crash; not ours to judge here
    }
  }
  return lines;
}

/** Env that sends spans to a Jaeger quickly (short batch delay) so tests need not wait 5 s. */
export function exportTo(otlpHttpUrl: string): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: otlpHttpUrl, OTEL_BSP_SCHEDULE_DELAY: '100' };
}
