// The real distribution registry (the `registry` component) on 127.0.0.1 for the tests, with
// htpasswd (Basic) or token (Bearer) authentication, over TLS or plain HTTP; and the token
// service a Bearer registry sends its clients to (the registry verifies its tokens for real).
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitForHttp } from '../../testenv/components.ts';
import { startProcess, type ManagedProcess } from '../../testenv/processes.ts';

export interface RegistryUser {
  readonly username: string;
  readonly password: string;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`, as image references name it. */
  readonly host: string;
  /** `https://127.0.0.1:<port>` or `http://…`. */
  readonly base: string;
  /** The token service's requests (scope and user), for a Bearer registry. */
  readonly tokenRequests: { scope: string; user: string | undefined }[];
  stop(): Promise<void>;
}

/**
 * A bcrypt hash as htpasswd files hold it, from the C library's crypt (libxcrypt does bcrypt;
 * perl is part of every Debian): no htpasswd binary and no npm package needed.
 */
export function bcryptHash(password: string): string {
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const salt = [...randomBytes(22)].map((byte) => alphabet[byte % 64] ?? '.').join('');
  const result = spawnSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`], { encoding: 'utf8' });
  if (result.status !== 0 || !result.stdout.startsWith('$2b$')) throw new Error(`perl's crypt made no bcrypt hash (libxcrypt missing?): ${result.stderr}`);
  return result.stdout;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A token service as the distribution spec describes it: Basic credentials in, a signed JWT for the granted scope out. */
async function startTokenService(user: RegistryUser, key: KeyObject, kid: string, service: string, issuer: string, requests: TestRegistry['tokenRequests']): Promise<{ server: Server; realm: string }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scope = url.searchParams.get('scope') ?? '';
    const header = req.headers.authorization ?? '';
    let who: string | undefined;
    if (header.startsWith('Basic ')) {
      const [name = '', ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      if (name !== user.username || rest.join(':') !== user.password) {
        requests.push({ scope, user: name });
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"incorrect username or password"}');
        return;
      }
      who = name;
    }
    requests.push({ scope, user: who });
    // Anonymous gets a token with no access, as public registries hand out.
    const [type = '', name = '', actions = ''] = scope.split(':');
    const access = who === undefined || type !== 'repository' ? [] : [{ type, name, actions: actions.split(',') }];
    const now = Math.floor(Date.now() / 1000);
    const head = base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }));
    const claims = base64url(JSON.stringify({ iss: issuer, sub: who ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access }));
    const signature = sign('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: `${head}.${claims}.${base64url(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, realm: `http://127.0.0.1:${String(port)}/token` };
}

/**
 * Starts the registry binary on a free loopback port. `auth`: `htpasswd` (Basic, the one user),
 * `token` (Bearer tokens from a token service that knows the one user), or `none`.
 */
export async function startTestRegistry(binary: string, dir: string, options: { auth: 'htpasswd' | 'token' | 'none'; user: RegistryUser; tls?: { cert: string; key: string } | undefined }): Promise<TestRegistry> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const tokenRequests: TestRegistry['tokenRequests'] = [];
  let tokenServer: Server | undefined;
  let auth: Record<string, unknown> | undefined;
  if (options.auth === 'htpasswd') {
    writeFileSync(join(dir, 'htpasswd'), `${options.user.username}:${bcryptHash(options.user.password)}\n`, { mode: 0o600 });
    auth = { htpasswd: { realm: 'tracelab-test', path: join(dir, 'htpasswd') } };
  } else if (options.auth === 'token') {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomBytes(8).toString('hex');
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] }));
    const started = await startTokenService(options.user, privateKey, kid, 'tracelab-test', 'tracelab-test-issuer', tokenRequests);
    tokenServer = started.server;
    auth = { token: { realm: started.realm, service: 'tracelab-test', issuer: 'tracelab-test-issuer', jwks: join(dir, 'jwks.json') } };
  }
  const config = {
    version: 0.1,
    log: { level: 'info' },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${String(port)}`, secret: randomBytes(16).toString('hex'), ...(options.tls === undefined ? {} : { tls: { certificate: options.tls.cert, key: options.tls.key } }) },
    ...(auth === undefined ? {} : { auth }),
  };
  writeFileSync(join(dir, 'config.yml'), stringify(config));
  const process: ManagedProcess = startProcess({ name: 'registry', command: binary, args: ['serve', join(dir, 'config.yml')], logFile: join(dir, 'registry.log') });
  const base = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${String(port)}`;
  try {
    await waitForHttp(`${base}/v2/`, { what: 'the test registry', accept: (res) => res.status === 200 || res.status === 401, abortIf: () => process.exitStatus() });
  } catch (err) {
    await process.stop();
    tokenServer?.close();
    throw new Error(`${(err as Error).message}\n${process.logTail()}`, { cause: err });
  }
  return {
    host: `127.0.0.1:${String(port)}`,
    base,
    tokenRequests,
    async stop() {
      await process.stop();
      await new Promise<void>((resolve) => {
        if (tokenServer === undefined) resolve();
        else tokenServer.close(() => { resolve(); });
      });
    },
  };
}
