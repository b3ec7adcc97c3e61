import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { UserError } from '../../../core/errors.ts';
import { createKube, loadKubeConfig } from '../../../core/kube/client.ts';
import { KubeApiError } from '../../../core/kube/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'tracelab-kubeconfig-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfig(name: string, content: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(content));
  return file;
}

function lab(server: string, user: Record<string, unknown> = { token: 'not-a-secret' }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server, 'insecure-skip-tls-verify': true, ...extra } }],
    users: [{ name: 'lab', user }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }],
    'current-context': 'lab',
  };
}

describe('loadKubeConfig()', () => {
  it('names a missing kubeconfig file and the fix', () => {
    assert.throws(() => loadKubeConfig('/nonexistent/kubeconfig', undefined), /^UserError: kubeconfig \/nonexistent\/kubeconfig does not exist — pass --kubeconfig <path> or set KUBECONFIG$/);
  });

  it('names an unknown context and the ones there are', () => {
    const file = kubeconfig('one', lab('https://127.0.0.1:1'));
    assert.throws(() => loadKubeConfig(file, 'prod'), /kubeconfig has no context 'prod' \(it has: lab\) — pass one of those to --context/);
  });

  it('says so when the context names no cluster', () => {
    const file = kubeconfig('no-cluster', { ...lab('https://127.0.0.1:1'), clusters: [] });
    assert.throws(() => loadKubeConfig(file, undefined), /no Kubernetes cluster configured: pass --kubeconfig/);
  });

  it('merges several files like KUBECONFIG, the current context from the first', () => {
    const first = kubeconfig('first', lab('https://127.0.0.1:1'));
    const second = kubeconfig('second', {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'staging', cluster: { server: 'https://127.0.0.1:2' } }],
      users: [{ name: 'staging', user: { token: 't' } }],
      contexts: [{ name: 'staging', context: { cluster: 'staging', user: 'staging' } }],
      'current-context': 'staging',
    });
    assert.equal(loadKubeConfig([first, second].join(delimiter), undefined).getCurrentCluster()?.server, 'https://127.0.0.1:1');
    assert.equal(loadKubeConfig([first, second].join(delimiter), 'staging').getCurrentCluster()?.server, 'https://127.0.0.1:2');
  });

  it('names a malformed kubeconfig in one line that quotes none of its credentials', () => {
    const file = join(dir, 'malformed');
    writeFileSync(file, 'apiVersion: v1\nusers:\n- name: lab\n  user:\n    token: secret-token-123\n   bad: indent\n');
    assert.throws(
      () => loadKubeConfig(file, undefined),
      (err: unknown) =>
        err instanceof Error &&
        err.message.startsWith(`cannot read kubeconfig ${file}: bad indentation`) &&
        !err.message.includes('\n') &&
        !err.message.includes('secret-token-123'),
    );
  });

  it('reads certificate paths relative to the kubeconfig file', () => {
    mkdirSync(join(dir, 'relative', 'pki'), { recursive: true });
    writeFileSync(join(dir, 'relative', 'pki', 'ca.crt'), 'ca');
    const file = kubeconfig(join('relative', 'config'), lab('https://127.0.0.1:1', { token: 't' }, { 'insecure-skip-tls-verify': false, 'certificate-authority': 'pki/ca.crt' }));
    assert.equal(loadKubeConfig(file, undefined).getCurrentCluster()?.caFile, join(dir, 'relative', 'pki', 'ca.crt'));
  });
});

describe('createKube()', () => {
  it('takes the server and context from the kubeconfig', async () => {
    const kube = createKube({ kubeconfig: kubeconfig('server', lab('https://127.0.0.1:1')) });
    try {
      assert.equal(kube.server, 'https://127.0.0.1:1');
      assert.equal(kube.contextName, 'lab');
    } finally {
      await kube.close();
    }
  });

  it('says why a request could not be sent instead of "fetch failed", without retrying', async () => {
    // Port 1 is one fetch refuses to use: the same path as a server certificate that does not verify.
    const kube = createKube({ kubeconfig: kubeconfig('blocked-port', lab('https://127.0.0.1:1')) });
    try {
      await assert.rejects(
        kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' }),
        (err: unknown) =>
          err instanceof UserError &&
          err.exitCode === 4 &&
          err.message === "cannot talk to the Kubernetes API at https://127.0.0.1:1: bad port — check the server and certificate-authority of kubeconfig context 'lab'",
      );
    } finally {
      await kube.close();
    }
  });

  it('names the context whose certificate file is gone, without retrying', async () => {
    const file = kubeconfig('gone', lab('https://127.0.0.1:1', { 'client-certificate': 'missing.crt', 'client-key': 'missing.key' }));
    const kube = createKube({ kubeconfig: file });
    try {
      await assert.rejects(kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' }), /^UserError: cannot load the credentials of kubeconfig context 'lab': .*missing\.(crt|key)/);
    } finally {
      await kube.close();
    }
  });
});

const cli = fileURLToPath(new URL('../../../cli/tracelab.ts', import.meta.url));

/** The CLI as a user runs it: its exit code and what it wrote to stderr. */
async function tracelab(args: string[], env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' }): Promise<{ status: number; stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { env, encoding: 'utf8' });
    return { status: 0, stderr };
  } catch (err) {
    const failed = err as { code?: unknown; stderr?: unknown };
    return { status: typeof failed.code === 'number' ? failed.code : -1, stderr: String(failed.stderr) };
  }
}

/** Runs fn with these environment variables set (undefined: unset), as client-node reads them. */
function withEnv(env: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  };
  apply(env);
  try {
    fn();
  } finally {
    apply(saved);
  }
}

const inPod = existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token') && 'running in a pod: client-node uses its service account';

describe('loadKubeConfig() without --kubeconfig', { skip: inPod }, () => {
  const fix = 'pass --kubeconfig <path> or set KUBECONFIG (a kubeadm cluster: copy /etc/kubernetes/admin.conf from a control-plane node)';

  it('says that no kubeconfig was found, where it looked and what to do, in one line (exit 2)', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    withEnv({ KUBECONFIG: undefined, HOME: home }, () => {
      assert.throws(
        () => loadKubeConfig(undefined, undefined),
        (err: unknown) =>
          err instanceof UserError &&
          err.exitCode === 2 &&
          err.message === `no kubeconfig found (KUBECONFIG is not set and ${join(home, '.kube', 'config')} does not exist) — ${fix}`,
      );
    });
  });

  it('treats an empty KUBECONFIG as unset, like client-node', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    withEnv({ KUBECONFIG: '', HOME: home }, () => {
      assert.throws(() => loadKubeConfig('', undefined), /^UserError: no kubeconfig found \(KUBECONFIG is not set and /);
    });
  });

  it('says so when there is no home directory either', () => {
    withEnv({ KUBECONFIG: undefined, HOME: undefined }, () => {
      assert.throws(() => loadKubeConfig(undefined, undefined), (err: unknown) => err instanceof UserError && err.message === `no kubeconfig found (KUBECONFIG and HOME are not set) — ${fix}`);
    });
  });

  it('reads ~/.kube/config from the home directory client-node uses', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), stringify(lab('https://127.0.0.1:3')));
    withEnv({ KUBECONFIG: undefined, HOME: home }, () => {
      assert.equal(loadKubeConfig(undefined, undefined).getCurrentCluster()?.server, 'https://127.0.0.1:3');
    });
  });

  it('leaves KUBECONFIG from the environment to client-node', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    withEnv({ KUBECONFIG: kubeconfig('from-env', lab('https://127.0.0.1:4')), HOME: home }, () => {
      assert.equal(loadKubeConfig(undefined, undefined).getCurrentCluster()?.server, 'https://127.0.0.1:4');
    });
  });

  it('ends the CLI with that one red line and exit 2', async () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, CI: 'true' };
    delete env.KUBECONFIG;
    const run = await tracelab(['teardown', 'demo'], env);
    assert.equal(run.status, 2);
    assert.match(run.stderr, /^✗ .*no kubeconfig found \(KUBECONFIG is not set and .* does not exist\) — pass --kubeconfig <path>.*\n$/);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1);
  });
});

/** Certificates made with openssl for this run: the fake API server's, and client certificates. */
const pki = join(dir, 'pki');

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: 'ignore' });
}

function base64(file: string): string {
  return readFileSync(join(pki, file)).toString('base64');
}

interface FakeApi {
  readonly url: string;
  /** `METHOD path` of each request that arrived. */
  readonly requests: string[];
  /** What every request is answered. */
  answer: { status: number; body: unknown };
}

const unauthorized = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };

describe('createKube() and the credentials of the kubeconfig', () => {
  let server: Server;
  let api: FakeApi;

  before(async () => {
    mkdirSync(pki, { recursive: true });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl('req', '-x509', ...ec, '-days', '1', '-subj', '/CN=fake-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'server.key', '-out', 'server.crt');
    openssl('req', '-x509', ...ec, '-days', '1', '-subj', '/CN=kubernetes-admin', '-keyout', 'valid.key', '-out', 'valid.crt');
    // notAfter one day ago: openssl 3.0's req cannot, x509 -days -1 can.
    openssl('req', '-new', ...ec, '-subj', '/CN=kubernetes-admin', '-keyout', 'expired.key', '-out', 'expired.csr');
    openssl('x509', '-req', '-in', 'expired.csr', '-key', 'expired.key', '-days', '-1', '-out', 'expired.crt');
    const requests: string[] = [];
    const answer: FakeApi['answer'] = { status: 401, body: unauthorized };
    server = createServer({ key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.crt')) }, (request, response) => {
      requests.push(`${request.method ?? ''} ${request.url ?? ''}`);
      response.writeHead(api.answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(api.answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    api = { url: `https://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, requests, answer };
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A kubeconfig that verifies the fake API server by its certificate, with this user. */
  function fakeApiConfig(name: string, user: Record<string, unknown>): string {
    // undefined drops lab()'s insecure-skip-tls-verify from the YAML.
    return kubeconfig(name, lab(api.url, user, { 'insecure-skip-tls-verify': undefined, 'certificate-authority-data': base64('server.crt') }));
  }

  function reset(status: number, body: unknown): void {
    api.requests.length = 0;
    api.answer = { status, body };
  }

  const rejected = (server: string): string =>
    `the Kubernetes API at ${server} rejected the credentials of kubeconfig context 'lab' (401 Unauthorized): they are wrong or expired — refresh them (a kubeadm cluster: copy /etc/kubernetes/admin.conf again) or pass another --context`;

  it('turns a 401 into one line naming the server, the context and the fix (exit 4), without retrying', async () => {
    reset(401, unauthorized);
    const kube = createKube({ kubeconfig: fakeApiConfig('rejected-token', { token: 'expired-token' }) });
    try {
      await assert.rejects(
        kube.get({ apiVersion: 'v1', kind: 'Namespace', name: 'default' }),
        (err: unknown) =>
          err instanceof UserError &&
          err.exitCode === 4 &&
          err.message === rejected(api.url) &&
          err.cause instanceof KubeApiError &&
          err.cause.status === 401,
      );
      assert.deepEqual(api.requests, ['GET /api/v1']);
    } finally {
      await kube.close();
    }
  });

  it('turns a 401 to a watch into the same line', async () => {
    reset(401, unauthorized);
    const kube = createKube({ kubeconfig: fakeApiConfig('rejected-watch', { token: 'expired-token' }) });
    try {
      await assert.rejects(
        kube.watch('/api/v1/namespaces', {}, () => undefined, AbortSignal.timeout(10_000)),
        (err: unknown) => err instanceof UserError && err.exitCode === 4 && err.message === rejected(api.url),
      );
    } finally {
      await kube.close();
    }
  });

  it('keeps a 403 a KubeApiError for the caller to judge', async () => {
    reset(403, { ...unauthorized, message: 'namespaces "default" is forbidden', reason: 'Forbidden', code: 403 });
    const kube = createKube({ kubeconfig: fakeApiConfig('forbidden', { token: 'viewer' }) });
    try {
      await assert.rejects(kube.request('GET', '/api/v1/namespaces/default'), (err: unknown) => err instanceof KubeApiError && err.status === 403 && err.reason === 'Forbidden');
    } finally {
      await kube.close();
    }
  });

  it('ends the CLI with that one red line and exit 4', async () => {
    reset(401, unauthorized);
    const run = await tracelab(['--kubeconfig', fakeApiConfig('rejected-cli', { token: 'expired-token' }), 'teardown', 'demo']);
    assert.equal(run.status, 4, run.stderr);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
    assert.ok(run.stderr.startsWith('✗ ') && run.stderr.trimEnd().endsWith(rejected(api.url)), run.stderr);
  });

  /** The date an expired-certificate line names. */
  function expiredOn(message: string): Date {
    const date = /expired on (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC — /.exec(message)?.[1];
    assert.ok(date !== undefined, message);
    return new Date(`${date.replace(' ', 'T')}Z`);
  }

  it('names an expired client certificate and its date before sending anything (exit 4)', async () => {
    reset(200, { kind: 'APIResourceList', resources: [] });
    const kube = createKube({ kubeconfig: fakeApiConfig('expired-data', { 'client-certificate-data': base64('expired.crt'), 'client-key-data': base64('expired.key') }) });
    try {
      await assert.rejects(kube.request('GET', '/api/v1'), (err: unknown) => {
        assert.ok(err instanceof UserError && err.exitCode === 4, String(err));
        assert.match(
          err.message,
          /^the client certificate of kubeconfig context 'lab' expired on \S+ \S+ UTC — renew it \(a kubeadm cluster: `kubeadm certs renew admin.conf` on a control-plane node, then copy \/etc\/kubernetes\/admin.conf again\) or pass another --context$/,
        );
        const aDayAgo = Date.now() - 24 * 3600_000;
        assert.ok(Math.abs(expiredOn(err.message).getTime() - aDayAgo) < 10 * 60_000, err.message);
        return true;
      });
      assert.deepEqual(api.requests, []);
    } finally {
      await kube.close();
    }
  });

  it('names the file of an expired client certificate', async () => {
    reset(200, { kind: 'APIResourceList', resources: [] });
    const kube = createKube({ kubeconfig: fakeApiConfig('expired-file', { 'client-certificate': join(pki, 'expired.crt'), 'client-key': join(pki, 'expired.key') }) });
    try {
      await assert.rejects(kube.request('GET', '/api/v1'), (err: unknown) => err instanceof UserError && err.message.startsWith(`the client certificate of kubeconfig context 'lab' (${join(pki, 'expired.crt')}) expired on `));
      assert.deepEqual(api.requests, []);
    } finally {
      await kube.close();
    }
  });

  it('sends with a client certificate that is still valid', async () => {
    reset(200, { kind: 'APIResourceList', resources: [] });
    const kube = createKube({ kubeconfig: fakeApiConfig('valid-cert', { 'client-certificate-data': base64('valid.crt'), 'client-key-data': base64('valid.key') }) });
    try {
      assert.deepEqual(await kube.request('GET', '/api/v1'), { kind: 'APIResourceList', resources: [] });
      assert.deepEqual(api.requests, ['GET /api/v1']);
    } finally {
      await kube.close();
    }
  });
});
