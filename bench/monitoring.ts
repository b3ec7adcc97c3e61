// npm run bench:monitoring — are the monitoring layer's requests honest? Real Prometheus (the
// Deployment's flags, the rendered config and rules) and real Jaeger (the rendered config) take
// the real frontend and backend under autocannon load; their resident memory and CPU are sampled
// from /proc and compared with the requests and limits the layer sets.
// Writes bench/results/monitoring-<time>.json. Target: peak RSS below the memory limit.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../testenv/components.ts';
import { startJaeger } from '../testenv/jaeger.ts';
import { startPrometheus } from '../testenv/prometheus.ts';
import { parseMemory } from '../core/footprint.ts';
import { componentResources } from '../monitoring/common.ts';
import { renderJaegerConfigYaml } from '../monitoring/jaeger.ts';
import { parseMonitoringOptions } from '../monitoring/layer.ts';
import { prometheusYaml, renderPrometheusConfig } from '../monitoring/prometheus-config.ts';
import { prometheusFeatureArgs } from '../monitoring/prometheus.ts';
import { renderRuleFiles } from '../monitoring/prometheus-rules.ts';
import { exportTo, startService } from '../test/services/harness.ts';
import { runLoad } from '../test/services/load.ts';

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const loadSeconds = Number(process.env.BENCH_SECONDS ?? 30);
const ticksPerSecond = 100;

interface Sample {
  rssBytes: number;
  cpuSeconds: number;
}

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / ticksPerSecond };
}

const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tracelab-bench-monitoring-'));
  const options = parseMonitoringOptions({});
  const stops: (() => Promise<void>)[] = [];
  try {
    const [otlpGrpc, otlpHttp, queryHttp, queryGrpc, health, metrics] = (await freePorts(6)) as [number, number, number, number, number, number];
    const jaegerConfig = path.join(dir, 'jaeger.yaml');
    writeFileSync(jaegerConfig, renderJaegerConfigYaml({ maxTraces: options.maxTraces, host: '127.0.0.1', ports: { otlpGrpc, otlpHttp, queryHttp, queryGrpc, health, metrics } }));
    const jaeger = await startJaeger({ configFile: jaegerConfig });
    stops.push(() => jaeger.stop());
    const backend = await startService('backend', { env: { ...exportTo(jaeger.otlpHttpUrl), LOG_LEVEL: 'warn' } });
    stops.push(() => backend.stop());
    const frontend = await startService('frontend', { env: { ...exportTo(jaeger.otlpHttpUrl), BACKEND_URL: backend.url, LOG_LEVEL: 'warn' } });
    stops.push(() => frontend.stop());

    mkdirSync(path.join(dir, 'rules'));
    for (const [name, text] of Object.entries(renderRuleFiles())) writeFileSync(path.join(dir, 'rules', name), text);
    const rendered = renderPrometheusConfig({ ...options, nodeExporterNamespace: 'monitoring', rulesGlob: path.join(dir, 'rules', '*.yaml') });
    const pods = { job_name: 'kubernetes-pods', static_configs: [{ targets: [`127.0.0.1:${frontend.port}`, `127.0.0.1:${backend.port}`], labels: { namespace: 'tracelab-demo' } }] };
    const prometheus = await startPrometheus({ configYaml: prometheusYaml({ ...rendered, scrape_configs: [pods] }), extraArgs: prometheusFeatureArgs });
    stops.push(() => prometheus.stop());

    const startSamples = { prometheus: sample(prometheus.pid), jaeger: sample(jaeger.pid) };
    const peak = { prometheus: startSamples.prometheus.rssBytes, jaeger: startSamples.jaeger.rssBytes };
    const timer = setInterval(() => {
      peak.prometheus = Math.max(peak.prometheus, sample(prometheus.pid).rssBytes);
      peak.jaeger = Math.max(peak.jaeger, sample(jaeger.pid).rssBytes);
    }, 500);
    const load = await runLoad({ url: `${frontend.url}/api/hello`, connections: 8, duration: loadSeconds });
    clearInterval(timer);
    const endSamples = { prometheus: sample(prometheus.pid), jaeger: sample(jaeger.pid) };
    const services = await jaeger.services();

    const report = (name: 'prometheus' | 'jaeger') => ({
      rssStartMiB: mib(startSamples[name].rssBytes),
      rssPeakMiB: mib(peak[name]),
      cpuMillicoresAvg: Math.round(((endSamples[name].cpuSeconds - startSamples[name].cpuSeconds) / loadSeconds) * 1000),
      requests: componentResources[name].requests,
      limits: componentResources[name].limits,
      peakBelowLimit: peak[name] < parseMemory(componentResources[name].limits.memory),
    });
    const result = {
      benchmark: 'monitoring',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      load: { seconds: loadSeconds, connections: 8, requests: load.result.requests.total, rps: Math.round(load.result.requests.average), tracesStoredUpTo: options.maxTraces, jaegerServices: services },
      prometheus: report('prometheus'),
      jaeger: report('jaeger'),
    };
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `monitoring-${result.date.replaceAll(':', '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:monitoring failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
