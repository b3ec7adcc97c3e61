// The k6 script: type-checked against @types/k6 (and failing that check when it misuses k6's API or
// sets an option k6 does not have), and run — types stripped, k6's modules stubbed — to show it
// requests what config.json says, hands k6 the scenario's options, and prints the summary line
// the runner parses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { LogFollower, parseK6Summary, renderK6Objects, splitTimestamp } from '../../loadtest/runners/k6.ts';
import { k6Config, k6Image, k6Options, summaryMarker, type K6Config } from '../../loadtest/runners/k6-config.ts';
import { ramp } from '../../loadtest/scenarios/ramp.ts';
import { smoke } from '../../loadtest/scenarios/smoke.ts';

const k6Dir = fileURLToPath(new URL('../../loadtest/k6/', import.meta.url));
const scriptPath = join(k6Dir, 'script.ts');
const script = readFileSync(scriptPath, 'utf8');

/** tsc on loadtest/k6/tsconfig.json, with the script's text replaced by `source`. */
function typeErrors(source: string): string[] {
  const configFile = ts.readConfigFile(join(k6Dir, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, k6Dir);
  const host = ts.createCompilerHost(parsed.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, onError, fresh) =>
    fileName === scriptPath ? ts.createSourceFile(fileName, source, language) : getSourceFile(fileName, language, onError, fresh);
  const program = ts.createProgram(parsed.fileNames, parsed.options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('loadtest/k6/script.ts against @types/k6', () => {
  it('type-checks as it is (npm run typecheck runs the same project)', () => {
    assert.deepEqual(typeErrors(script), []);
  });

  it('fails the check when it misuses the k6 API or sets an option k6 does not have', () => {
    const misuse = script.replace('http.get(config.url, params);', 'http.get(config.url, { timeout: true });');
    assert.notEqual(misuse, script);
    assert.deepEqual(typeErrors(misuse), ["Type 'true' is not assignable to type 'string | number | undefined'."], 'a timeout of the wrong type');
    const unknownOption = script.replace('export const options: Options = config.options;', 'export const options: Options = { ...config.options, thresholdz: {} };');
    assert.notEqual(unknownOption, script);
    assert.ok(typeErrors(unknownOption).some((message) => /thresholdz/.test(message)), 'an option k6 does not know');
  });
});

describe('the k6 script, run with k6 stubbed', () => {
  it('gives k6 the scenario as options, requests the configured URL, and prints the one summary line tracelab parses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracelab-k6-script-'));
    const calls: unknown[][] = [];
    try {
      const config = k6Config(ramp, 'http://frontend.tracelab-demo.svc:8080');
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      // What k6 itself would do: run the TypeScript with its types removed (the type imports go).
      const stripped = stripTypeScriptTypes(script);
      assert.doesNotMatch(stripped, /from '\.\.\//, 'no import of tracelab code survives');
      writeFileSync(join(dir, 'script.mjs'), stripped);
      (globalThis as { open?: (path: string) => string }).open = (path) => readFileSync(join(dir, path), 'utf8');
      (globalThis as { k6Calls?: unknown[][] }).k6Calls = calls;
      const stub = 'export default { get: (...args) => { globalThis.k6Calls.push(args); } };';
      const hooks = registerHooks({
        resolve: (specifier, context, next) => (specifier === 'k6/http' ? { url: `data:text/javascript,${encodeURIComponent(stub)}`, shortCircuit: true } : next(specifier, context)),
      });
      const cwd = process.cwd();
      // open('./config.json') is relative to the script, as k6 resolves it.
      process.chdir(dirname(join(dir, 'script.mjs')));
      let loaded: { options: unknown; default: () => void; handleSummary: (data: unknown) => Record<string, string> };
      try {
        loaded = (await import(pathToFileURL(join(dir, 'script.mjs')).href)) as typeof loaded;
      } finally {
        process.chdir(cwd);
        hooks.deregister();
      }
      assert.deepEqual(loaded.options, k6Options(ramp));
      loaded.default();
      assert.deepEqual(calls, [['http://frontend.tracelab-demo.svc:8080/api/hello', { headers: { 'x-tracelab-cpu-ms': '25' }, timeout: '10s' }]]);
      // The end-of-test data, as k6 hands it to handleSummary.
      const trend = { avg: 40, min: 2, max: 900, 'p(50)': 31, 'p(90)': 120, 'p(95)': 180.5, 'p(99)': 640 };
      const out = loaded.handleSummary({
        metrics: {
          http_reqs: { type: 'counter', values: { count: 705, rate: 6.4 } },
          http_req_failed: { type: 'rate', values: { rate: 0.004, passes: 3, fails: 702 } },
          http_req_duration: { type: 'trend', values: trend },
          dropped_iterations: { type: 'counter', values: { count: 2, rate: 0.01 } },
        },
      });
      assert.deepEqual(Object.keys(out), ['stdout']);
      const line = out.stdout ?? '';
      assert.ok(line.startsWith(summaryMarker) && line.endsWith('\n'));
      assert.deepEqual(parseK6Summary(['running (0m10.0s), 01/40 VUs', line.trimEnd()]), { requests: 705, failed: 3, dropped: 2, latencyMs: { p50: 31, p90: 120, p95: 180.5, p99: 640 } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('k6Options()', () => {
  it('is one ramping-arrival-rate scenario with the stages in seconds and the thresholds in k6 words', () => {
    assert.deepEqual(k6Options(ramp), {
      scenarios: {
        ramp: {
          executor: 'ramping-arrival-rate',
          startRate: 1,
          timeUnit: '1s',
          preAllocatedVUs: 8,
          maxVUs: 40,
          stages: [{ duration: '30s', target: 8 }, { duration: '60s', target: 8 }, { duration: '20s', target: 1 }],
          gracefulStop: '10s',
        },
      },
      thresholds: { http_req_failed: ['rate<=0.01'], http_req_duration: ['p(95)<1500', 'p(99)<3000'] },
      summaryTrendStats: ['avg', 'min', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)'],
      discardResponseBodies: true,
    });
  });

  it('the config names the URL from the origin and the path, whatever trailing slash', () => {
    const config: K6Config = k6Config(smoke, 'http://frontend:8080/');
    assert.equal(config.url, 'http://frontend:8080/api/hello');
    assert.equal(config.timeout, '10s');
  });
});

describe('renderK6Objects()', () => {
  const objects = renderK6Objects(smoke, { namespace: 'lab', origin: 'http://frontend:8080', image: k6Image, suffix: 'abc123', frontend: { app: 'frontend', port: 8080 } }, 'SCRIPT');
  it('names all three after the scenario and the run, labelled for cleanup', () => {
    for (const object of [objects.configMap, objects.networkPolicy, objects.job]) {
      assert.equal(object.metadata?.name, 'k6-smoke-abc123');
      assert.equal(object.metadata.namespace, 'lab');
      assert.equal(object.metadata.labels?.['tracelab.dev/loadtest'], 'k6-smoke-abc123');
    }
    assert.equal(objects.configMap.data?.['script.ts'], 'SCRIPT');
  });

  it('bounds the Job: one attempt, a deadline past the load, cleaned up by TTL if tracelab was killed', () => {
    const spec = objects.job.spec;
    assert.equal(spec?.backoffLimit, 0);
    assert.equal(spec.activeDeadlineSeconds, 10 + 10 + 300);
    assert.equal(spec.ttlSecondsAfterFinished, 600);
    assert.equal(spec.template.spec?.enableServiceLinks, false);
    assert.deepEqual(spec.template.spec.containers[0]?.env, [{ name: 'K6_NO_USAGE_REPORT', value: 'true' }, { name: 'HOME', value: '/tmp' }]);
  });

  it('lets the k6 pod reach only the frontend pods, or with --target only that port', () => {
    assert.deepEqual(objects.networkPolicy.spec.egress, [{ to: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
    const targeted = renderK6Objects(smoke, { namespace: 'lab', origin: 'http://ingress.lab.example:30080', image: k6Image, suffix: 'abc123', frontend: { app: 'frontend', port: 8080 }, targetPort: 30080 }, 'SCRIPT');
    assert.deepEqual(targeted.networkPolicy.spec.egress, [{ ports: [{ protocol: 'TCP', port: 30080 }] }]);
  });

    it('pins the image by digest', () => {
    assert.match(k6Image, /^docker\.io\/grafana\/k6:2\.3\.0@sha256:[0-9a-f]{64}$/);
  });
});

describe('parseK6Summary() and splitTimestamp()', () => {
  it('takes the last summary line; none, or a line without the fields, is no summary', () => {
    const measured = { requests: 3, failed: 0, dropped: 0, latencyMs: { p50: 1, p90: 2, p95: 3, p99: 4 } };
    assert.deepEqual(parseK6Summary(['x', `${summaryMarker}${JSON.stringify({ ...measured, requests: 1 })}`, `${summaryMarker}${JSON.stringify(measured)}`]), measured);
    assert.equal(parseK6Summary(['running…']), undefined);
    assert.equal(parseK6Summary([`${summaryMarker}{"requests":"many"}`]), undefined);
  });

  it('orders the kubelet timestamps whatever their fraction length', () => {
    const a = splitTimestamp('2026-12-01T10:00:00.5Z first');
    const b = splitTimestamp('2026-12-01T10:00:00.123456789Z second');
    assert.equal(a.text, 'first');
    assert.ok(b.key < a.key);
    assert.deepEqual(splitTimestamp('no timestamp'), { key: '', text: 'no timestamp' });
  });
});

describe('LogFollower', () => {
  it('hands each line on once across polls that repeat the last second, from that second on', () => {
    const follower = new LogFollower();
    assert.equal(follower.sinceTime(), undefined);
    const first = '2026-12-01T10:00:01.1Z starting\n2026-12-01T10:00:02.25Z running (0m01.0s), 1/8 VUs\n';
    assert.deepEqual(follower.take(first), ['starting', 'running (0m01.0s), 1/8 VUs']);
    assert.equal(follower.sinceTime(), '2026-12-01T10:00:02Z');
    // The next poll starts at 10:00:02: the line of that second again, then new ones.
    const second = '2026-12-01T10:00:02.25Z running (0m01.0s), 1/8 VUs\n2026-12-01T10:00:02.9Z running (0m02.0s), 2/8 VUs\r\n2026-12-01T10:00:03.5Z a\rb\r\n';
    assert.deepEqual(follower.take(second), ['running (0m02.0s), 2/8 VUs', 'b']);
    assert.deepEqual(follower.take(''), []);
  });
});
