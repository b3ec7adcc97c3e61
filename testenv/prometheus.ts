import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { componentPath, freePort, waitFor, waitForHttp } from './components.ts';
import { startProcess } from './processes.ts';

/** One series of an instant query result (resultType "vector"). */
export interface PromSample {
  metric: Record<string, string>;
  /** [unix seconds, value as string] */
  value: [number, string];
}

export type PromQueryData =
  | { resultType: 'vector'; result: PromSample[] }
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: [number, string][] }[] }
  | { resultType: 'scalar' | 'string'; result: [number, string] };

export interface PrometheusHandle {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** The generated or given prometheus.yml. */
  readonly configFile: string;
  /** Instant query via /api/v1/query; throws with Prometheus' error message on a bad query. */
  query(promql: string): Promise<PromQueryData>;
  /** Retry an instant query until it returns a non-empty vector (e.g. after the first scrape). */
  waitForSeries(promql: string, options?: { deadlineMs?: number }): Promise<PromSample[]>;
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** host:port targets scraped as job "test" at /metrics every second. */
  scrapeTargets?: string[];
  /** A whole prometheus.yml instead of the generated one. */
  configYaml?: string;
  /** More flags after the generated ones, e.g. the deployed Prometheus' feature flags. */
  extraArgs?: readonly string[];
  /** @default 30000 */
  startDeadlineMs?: number;
}

/** Start the cached Prometheus 3 binary on a free loopback port with a temporary TSDB. */
export async function startPrometheus(options: StartPrometheusOptions = {}): Promise<PrometheusHandle> {
  if (options.configYaml !== undefined && options.scrapeTargets !== undefined) {
    throw new Error('startPrometheus: pass scrapeTargets or configYaml, not both (put the targets into the config)');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tracelab-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, options.configYaml ?? renderPrometheusConfig({ scrapeTargets: options.scrapeTargets ?? [], interval: '1s' }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess({
    name: 'prometheus',
    command: componentPath('prometheus'),
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      ...(options.extraArgs ?? []),
    ],
    logFile: path.join(dir, 'prometheus.log'),
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`${url}/-/ready`, {
      what: 'Prometheus to be ready',
      deadlineMs: options.startDeadlineMs ?? 30_000,
      abortIf: () => {
        const status = proc.exitStatus();
        return status === undefined ? undefined : `prometheus ${status}; log ${proc.logFile}:\n${proc.logTail()}`;
      },
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const query = async (promql: string): Promise<PromQueryData> => {
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: promql }).toString(),
    });
    const body = (await res.json()) as { status: string; data?: PromQueryData; error?: string };
    if (body.status !== 'success' || body.data === undefined) {
      throw new Error(`Prometheus query '${promql}' failed: ${body.error ?? `HTTP ${res.status}`}`);
    }
    return body.data;
  };

  return {
    url,
    pid: proc.pid,
    logFile: proc.logFile,
    configFile,
    query,
    waitForSeries: (promql, waitOptions = {}) => {
      let last = 'no result yet';
      return waitFor(
        `a series for '${promql}' in Prometheus`,
        async () => {
          const data = await query(promql);
          if (data.resultType !== 'vector') throw new Error(`'${promql}' returned a ${data.resultType}, not a vector`);
          last = `${data.result.length} series`;
          return data.result.length > 0 ? data.result : undefined;
        },
        { deadlineMs: waitOptions.deadlineMs ?? 15_000, status: () => last },
      );
    },
    stop,
  };
}

/** A prometheus.yml scraping the given targets as job "test". */
export function renderPrometheusConfig(input: { scrapeTargets: string[]; interval: string }): string {
  const config = {
    global: { scrape_interval: input.interval, evaluation_interval: input.interval },
    scrape_configs: input.scrapeTargets.length === 0 ? [] : [
      { job_name: 'test', static_configs: [{ targets: input.scrapeTargets }] },
    ],
  };
  return `# generated by testenv/prometheus.ts\n${stringify(config)}`;
}

export interface PromtoolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the cached promtool (e.g. ['check', 'rules', file]); never throws on a non-zero exit. */
export function promtool(args: readonly string[]): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(componentPath('promtool'), args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error(`failed to run promtool ${args.join(' ')}: ${err.message}`, { cause: err }));
        return;
      }
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr });
    });
    child.stdin?.end();
  });
}
