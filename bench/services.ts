/**
 * npm run bench:services — throughput and cost of the frontend → backend chain on this machine.
 *
 * Three chains, same load generator (autocannon) and connection count:
 *   bare      node:http server → node:http keep-alive client → node:http server (the shape's limit)
 *   untraced  the real services with OTEL_SDK_DISABLED=true (preload patches nothing)
 *   traced    the real services, 100 % sampled, exporting to a real Jaeger over OTLP/HTTP
 * For each: requests/s at saturation, then p50/p99 and CPU time per request of both processes at a
 * fixed 500 requests/s. Prints the ratios against the targets and writes bench/results/services-*.json.
 */
import autocannon from 'autocannon';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, isBuilt, waitForHttp } from '../testenv/components.ts';
import { startJaeger } from '../testenv/jaeger.ts';
import type { JaegerHandle } from '../testenv/jaeger.ts';
import { startProcess } from '../testenv/processes.ts';
import type { ManagedProcess } from '../testenv/processes.ts';
import { startService } from '../test/services/harness.ts';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const saturationSeconds = Number(process.env.BENCH_SATURATION_SECONDS ?? 6);
const fixedRate = 500;
const fixedSeconds = Number(process.env.BENCH_FIXED_SECONDS ?? 6);
/** Chains are measured in turns, round after round, and each figure is the median over rounds:
 *  on a shared 2-core machine a background build shifts the numbers far more than tracing does. */
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const warmupSeconds = 3;
const clockTicksPerSecond = 100;

interface Chain {
  name: 'bare' | 'untraced' | 'traced';
  url: string;
  pids: number[];
  stop(): Promise<void>;
}

interface Measurement {
  chain: Chain['name'];
  saturationRps: number;
  saturationErrors: number;
  fixedRate: { targetRps: number; achievedRps: number; p50Ms: number; p99Ms: number; cpuMsPerRequest: number; non2xx: number; errors: number };
}

// ---- the bare chain: one hop per process, as the services run -------------------------------------

function runBareHop(role: string, port: number, backendPort: number): void {
  if (role === 'backend') {
    createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ service: 'backend', record: { id: Math.floor(Math.random() * 1000) } }));
    }).listen(port, '127.0.0.1');
    return;
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  createServer((_request, response) => {
    httpRequest({ host: '127.0.0.1', port: backendPort, path: '/api/work', agent }, (backendResponse) => {
      const chunks: Buffer[] = [];
      backendResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
      backendResponse.on('end', () => {
        const backend = JSON.parse(Buffer.concat(chunks).toString()) as unknown;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ message: 'hello from frontend', backend }));
      });
    }).on('error', () => {
      response.statusCode = 502;
      response.end();
    }).end();
  }).listen(port, '127.0.0.1');
}

async function startBareChain(): Promise<Chain> {
  const self = fileURLToPath(import.meta.url);
  const [backendPort, frontendPort] = [await freePort(), await freePort()];
  const start = (role: string, port: number): ManagedProcess =>
    startProcess({ name: `bare-${role}`, command: process.execPath, args: [self, '--bare-hop', role, String(port), String(backendPort)] });
  const backend = start('backend', backendPort);
  const frontend = start('frontend', frontendPort);
  const url = `http://127.0.0.1:${frontendPort}`;
  await waitForHttp(`${url}/`, { what: 'the bare chain' });
  return {
    name: 'bare',
    url: `${url}/api/hello`,
    pids: [frontend.pid, backend.pid],
    stop: async () => {
      await frontend.stop(5_000);
      await backend.stop(5_000);
    },
  };
}

async function startServiceChain(name: 'untraced' | 'traced', jaeger: JaegerHandle | undefined): Promise<Chain> {
  const telemetry: Record<string, string> = name === 'untraced'
    ? { OTEL_SDK_DISABLED: 'true' }
    : { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger?.otlpHttpUrl ?? '', OTEL_TRACES_SAMPLER: 'always_on' };
  if (process.env.BENCH_OTLP_PROTOCOL && name === 'traced') telemetry.OTEL_EXPORTER_OTLP_PROTOCOL = process.env.BENCH_OTLP_PROTOCOL;
  const backend = await startService('backend', { env: telemetry });
  const frontend = await startService('frontend', { env: { ...telemetry, BACKEND_URL: backend.url } });
  return {
    name,
    url: `${frontend.url}/api/hello`,
    pids: [frontend.process.pid, backend.process.pid],
    stop: async () => {
      await frontend.stop();
      await backend.stop();
    },
  };
}

// ---- measuring ----------------------------------------------------------------------------------

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function load(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err: unknown, result: autocannon.Result) => {
      if (err) reject(err instanceof Error ? err : new Error('autocannon failed'));
      else resolve(result);
    });
  });
}

async function measureOnce(chain: Chain): Promise<Measurement> {
  const saturation = await load({ url: chain.url, connections, duration: saturationSeconds });
  await sleep(500);
  const ticksBefore = chain.pids.map(cpuTicks);
  const fixed = await load({ url: chain.url, connections, duration: fixedSeconds, overallRate: fixedRate });
  const ticks = chain.pids.map(cpuTicks).reduce((sum, after, i) => sum + after - (ticksBefore[i] ?? 0), 0);
  const requests = fixed.requests.total;
  return {
    chain: chain.name,
    saturationRps: Math.round(saturation.requests.average),
    saturationErrors: saturation.errors + saturation.non2xx,
    fixedRate: {
      targetRps: fixedRate,
      achievedRps: Math.round(fixed.requests.average),
      p50Ms: fixed.latency.p50,
      p99Ms: fixed.latency.p99,
      cpuMsPerRequest: Number(((ticks / clockTicksPerSecond) * 1000 / Math.max(1, requests)).toFixed(3)),
      non2xx: fixed.non2xx,
      errors: fixed.errors,
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function medianOf(chain: Chain['name'], runs: Measurement[]): Measurement {
  const pick = (get: (m: Measurement) => number): number => median(runs.map(get));
  return {
    chain,
    saturationRps: pick((m) => m.saturationRps),
    saturationErrors: runs.reduce((sum, m) => sum + m.saturationErrors, 0),
    fixedRate: {
      targetRps: fixedRate,
      achievedRps: pick((m) => m.fixedRate.achievedRps),
      p50Ms: pick((m) => m.fixedRate.p50Ms),
      p99Ms: pick((m) => m.fixedRate.p99Ms),
      cpuMsPerRequest: pick((m) => m.fixedRate.cpuMsPerRequest),
      non2xx: runs.reduce((sum, m) => sum + m.fixedRate.non2xx, 0),
      errors: runs.reduce((sum, m) => sum + m.fixedRate.errors, 0),
    },
  };
}

async function main(): Promise<void> {
  if (!isBuilt('jaeger')) {
    process.stderr.write('bench:services needs the real Jaeger: run bash testenv/components/build.sh jaeger\n');
    process.exit(2);
  }
  const jaeger = await startJaeger({ maxTraces: 50_000 });
  const chains: Chain[] = [];
  const runs = new Map<Chain['name'], Measurement[]>();
  try {
    chains.push(await startBareChain(), await startServiceChain('untraced', undefined), await startServiceChain('traced', jaeger));
    for (const chain of chains) {
      await load({ url: chain.url, connections, duration: warmupSeconds });
      runs.set(chain.name, []);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const chain of chains) {
        process.stderr.write(`round ${round}/${rounds}: ${chain.name} chain…\n`);
        runs.get(chain.name)?.push(await measureOnce(chain));
      }
    }
  } finally {
    for (const chain of chains) await chain.stop();
    await jaeger.stop();
  }
  const results = chains.map((chain) => medianOf(chain.name, runs.get(chain.name) ?? []));
  const [bare, untraced, traced] = results as [Measurement, Measurement, Measurement];
  const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));
  const ratios = {
    untracedVsBareSaturation: { value: ratio(untraced.saturationRps, bare.saturationRps), target: '>= 0.80' },
    tracedVsUntracedSaturation: { value: ratio(traced.saturationRps, untraced.saturationRps), target: '>= 0.60' },
    tracedVsUntracedP99At500: { value: ratio(traced.fixedRate.p99Ms, untraced.fixedRate.p99Ms), target: '<= 1.2' },
    tracedVsUntracedCpuPerRequestAt500: { value: ratio(traced.fixedRate.cpuMsPerRequest, untraced.fixedRate.cpuMsPerRequest), target: '<= 1.3' },
  };
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadAverage: os.loadavg() },
    node: process.version,
    load: { generator: 'autocannon', connections, saturationSeconds, fixedRate, fixedSeconds, warmupSeconds, rounds, statistic: 'median over rounds' },
    otlpProtocol: process.env.BENCH_OTLP_PROTOCOL ?? 'http/protobuf',
    results,
    ratios,
    runs: Object.fromEntries(runs),
  };
  for (const m of results) {
    process.stdout.write(`${m.chain.padEnd(9)} saturation ${String(m.saturationRps).padStart(6)} rps | at ${fixedRate} rps: p50 ${m.fixedRate.p50Ms} ms, p99 ${m.fixedRate.p99Ms} ms, CPU ${m.fixedRate.cpuMsPerRequest} ms/request\n`);
  }
  for (const [name, { value, target }] of Object.entries(ratios)) process.stdout.write(`${name.padEnd(36)} ${value} (target ${target})\n`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `services-${report.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}

const hop = process.argv.indexOf('--bare-hop');
if (hop !== -1) {
  runBareHop(process.argv[hop + 1] ?? '', Number(process.argv[hop + 2]), Number(process.argv[hop + 3]));
} else {
  await main();
}
