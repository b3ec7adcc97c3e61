import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../testenv/components.ts';
import { serviceDir, startCommand } from './harness.ts';
import type { ServiceName } from './harness.ts';

const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts the service the image's way with `env`; it must exit on its own. */
async function startWith(service: ServiceName, env: Record<string, string>): Promise<Outcome> {
  const [, ...args] = startCommand(service);
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      cwd: serviceDir(service),
      env: { PATH: process.env.PATH ?? '', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', PORT: String(await freePort()), ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const cases: { service: ServiceName; env: Record<string, string>; message: string }[] = [
  { service: 'backend', env: { PORT: 'abc' }, message: 'invalid PORT="abc": expected an integer port 1-65535' },
  { service: 'frontend', env: { PORT: '70000' }, message: 'invalid PORT="70000": expected an integer port 1-65535' },
  { service: 'frontend', env: { BACKEND_URL: 'backend:8080' }, message: 'invalid BACKEND_URL="backend:8080": expected an absolute http(s) URL such as http://backend:8080' },
  { service: 'frontend', env: { BACKEND_URL: 'http://' }, message: 'invalid BACKEND_URL="http://": expected an absolute http(s) URL such as http://backend:8080' },
  { service: 'frontend', env: { BACKEND_URL: 'http://backend:8080/api' }, message: 'invalid BACKEND_URL="http://backend:8080/api": expected an absolute http(s) URL such as http://backend:8080, without path, query or credentials' },
  { service: 'frontend', env: { BACKEND_TIMEOUT_MS: '2s' }, message: 'invalid BACKEND_TIMEOUT_MS="2s": expected a whole number of milliseconds 0-120000' },
  { service: 'frontend', env: { BACKEND_DISCOVERY: 'env' }, message: 'BACKEND_DISCOVERY=env needs BACKEND_SERVICE_HOST and BACKEND_SERVICE_PORT: Kubernetes sets them only for Services created before the pod; restart the pod or use BACKEND_DISCOVERY=dns' },
  { service: 'backend', env: { BACKEND_ERROR_RATE: '1.5' }, message: 'invalid BACKEND_ERROR_RATE="1.5": expected a number from 0 to 1 (e.g. 0.05)' },
  { service: 'backend', env: { BACKEND_LATENCY_MS: '-5' }, message: 'invalid BACKEND_LATENCY_MS="-5": expected a whole number of milliseconds 0-60000' },
  { service: 'backend', env: { SHUTDOWN_GRACE_MS: 'soon' }, message: 'invalid SHUTDOWN_GRACE_MS="soon": expected a whole number of milliseconds 0-3600000' },
];

describe('loadConfigOrExit() at service start', { concurrency: 4 }, () => {
  for (const { service, env, message } of cases) {
    it(`${service} ${JSON.stringify(env)} exits 2 with one line`, async () => {
      const outcome = await startWith(service, env);
      assert.equal(outcome.code, 2);
      assert.equal(outcome.stderr, `${message}\n`);
      assert.equal(outcome.stdout, '', 'nothing logged: the service never listened');
    });
  }
});
