// Integration: this machine's lookups and pushes against the REAL distribution registry (v3.1.2,
// the `registry` component) on 127.0.0.1 — htpasswd's Basic auth over TLS, and Bearer tokens from
// a token service the registry verifies — with and without credentials, and the one-line errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { ociImageArchive } from '../../bootstrap/artifacts/oci-image.ts';
import { UserError, exitCodes } from '../../core/errors.ts';
import { externalImageRegistry } from '../../build/image-registry.ts';
import { parseChallenge } from '../../build/registry-client.ts';
import { parseRegistryRef } from '../../build/registry-ref.ts';
import { freePort, isBuilt, requireComponent } from '../../testenv/components.ts';
import { createControlPlanePki } from '../../testenv/pki.ts';
import { startTestRegistry, type TestRegistry } from './registry-server.ts';

const user = { username: 'alice', password: 'correct horse battery staple' };
const wrong = { username: 'alice', password: 'not-the-password' };
const source = "pull secret 'creds'";

/** The one line of a UserError, with its exit code; the password must never be in it. */
async function oneLine(work: Promise<unknown>): Promise<{ message: string; exitCode: number }> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof UserError, `a UserError, got ${String(err)}`);
    assert.equal(err.message.split('\n').length, 1, err.message);
    assert.ok(!err.message.includes(user.password) && !err.message.includes(wrong.password), 'no password in the message');
    return { message: err.message, exitCode: err.exitCode };
  }
  assert.fail('expected a one-line error');
}

describe('parseChallenge()', () => {
  it('reads Bearer and Basic challenges, quoted and bare parameters', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push"'), {
      scheme: 'bearer',
      params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:team/app:pull,push' },
    });
    assert.deepEqual(parseChallenge('Basic realm="tracelab-test"'), { scheme: 'basic', params: { realm: 'tracelab-test' } });
    assert.deepEqual(parseChallenge('Bearer realm=https://a/token, service=reg'), { scheme: 'bearer', params: { realm: 'https://a/token', service: 'reg' } });
    assert.equal(parseChallenge(''), undefined);
  });
});

describe('an external registry, directly from this machine: the real distribution registry', () => {
  const work = mkdtempSync(join(tmpdir(), 'tracelab-registry-client-'));
  const archive = join(work, 'image.tar');
  const registries: TestRegistry[] = [];
  let manifestDigest = '';
  let ca = '';
  let pkiReady = false;

  before(async () => {
    const image = await ociImageArchive({ name: 'tracelab/test:1', files: [{ path: 'hello', content: 'hello\n', mode: 0o644 }], config: { Cmd: ['/hello'] } });
    writeFileSync(archive, image.archive);
    manifestDigest = image.manifestDigest;
    if (!isBuilt('registry')) return;
    const pki = await createControlPlanePki(join(work, 'pki'));
    ca = readFileSync(pki.ca.cert, 'utf8');
    // This process trusts the test CA as a person's machine trusts its registry's (NODE_EXTRA_CA_CERTS does the same at startup).
    setDefaultCACertificates([...getCACertificates('default'), ca]);
    pkiReady = true;
  });

  after(async () => {
    for (const registry of registries) await registry.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('htpasswd (Basic) over HTTPS: pushes and finds with the credentials; without them, or with wrong ones, one line and nothing pushed', async (t) => {
    const binary = requireComponent(t, 'registry');
    if (binary === undefined || !pkiReady) return;
    const pki = join(work, 'pki');
    const registry = await startTestRegistry(binary, join(work, 'basic'), { auth: 'htpasswd', user, tls: { cert: join(pki, 'apiserver.crt'), key: join(pki, 'apiserver.key') } });
    registries.push(registry);
    const ref = parseRegistryRef(`${registry.host}/team/tracelab`);
    const withCredentials = externalImageRegistry(ref, { insecure: false, credentials: user, credentialsSource: source });
    const anonymous = externalImageRegistry(ref, { insecure: false, credentials: undefined, credentialsSource: undefined });
    const wrongCredentials = externalImageRegistry(ref, { insecure: false, credentials: wrong, credentialsSource: source });
    const repository = withCredentials.repository('frontend');
    assert.equal(repository, 'team/tracelab/frontend');

    assert.equal(await withCredentials.manifestDigest(repository, 'src-1'), undefined, 'not built yet');
    const denied = await oneLine(anonymous.pushArchive(archive, repository, 'src-1'));
    assert.match(denied.message, new RegExp(`^registry ${registry.host.replace(/\./g, '\\.')} wants credentials for HEAD /v2/team/tracelab/frontend/blobs/sha256:[0-9a-f]{64} \\(401(: .*)?\\) — pass --pull-secret NAME`));
    assert.equal(denied.exitCode, exitCodes.refused);
    const rejected = await oneLine(wrongCredentials.pushArchive(archive, repository, 'src-1'));
    assert.match(rejected.message, /rejected the credentials of pull secret 'creds' for HEAD .* — check the user name and password in that Secret$/);
    assert.equal(await withCredentials.manifestDigest(repository, 'src-1'), undefined, 'a refused push pushed nothing');

    assert.equal(await withCredentials.pushArchive(archive, repository, 'src-1'), manifestDigest);
    assert.equal(await withCredentials.manifestDigest(repository, 'src-1'), manifestDigest, 'found again by its tag, the digest the nodes pull');
    assert.equal(await withCredentials.manifestDigest(repository, manifestDigest), manifestDigest, 'and by its digest');
    // A second push finds every blob there and only puts the manifest again.
    assert.equal(await withCredentials.pushArchive(archive, repository, 'src-1'), manifestDigest);
    const lookup = await oneLine(anonymous.manifestDigest(repository, 'src-1'));
    assert.match(lookup.message, /wants credentials for GET \/v2\/team\/tracelab\/frontend\/manifests\/src-1/);
    assert.match((await oneLine(wrongCredentials.manifestDigest(repository, 'src-1'))).message, /rejected the credentials of pull secret 'creds'/);
  });

  it('Bearer tokens from the registry\'s realm: the scope asked per repository, push and lookup with the credentials; anonymous or wrong ones, one line', async (t) => {
    const binary = requireComponent(t, 'registry');
    if (binary === undefined) return;
    const registry = await startTestRegistry(binary, join(work, 'token'), { auth: 'token', user });
    registries.push(registry);
    const ref = parseRegistryRef(`${registry.host}/team`);
    const withCredentials = externalImageRegistry(ref, { insecure: true, credentials: user, credentialsSource: source });
    const anonymous = externalImageRegistry(ref, { insecure: true, credentials: undefined, credentialsSource: undefined });
    const wrongCredentials = externalImageRegistry(ref, { insecure: true, credentials: wrong, credentialsSource: source });
    const repository = withCredentials.repository('backend');

    assert.equal(await withCredentials.pushArchive(archive, repository, 'src-2'), manifestDigest);
    assert.equal(await withCredentials.manifestDigest(repository, 'src-2'), manifestDigest);
    assert.ok(registry.tokenRequests.some((request) => request.scope === 'repository:team/backend:pull,push' && request.user === 'alice'), JSON.stringify(registry.tokenRequests));
    assert.ok(registry.tokenRequests.some((request) => request.scope === 'repository:team/backend:pull' && request.user === 'alice'), JSON.stringify(registry.tokenRequests));

    const denied = await oneLine(anonymous.manifestDigest(repository, 'src-2'));
    assert.match(denied.message, /wants credentials for GET \/v2\/team\/backend\/manifests\/src-2 \(401(: .*)?\) — pass --pull-secret NAME/);
    const rejected = await oneLine(wrongCredentials.manifestDigest(repository, 'src-2'));
    assert.match(rejected.message, /rejected the credentials of pull secret 'creds' for a token for repository:team\/backend:pull \(401: .*incorrect username or password.*\)/);
    assert.equal(rejected.exitCode, exitCodes.refused);
  });

  it('a plain-HTTP registry asked over HTTPS says to pass --registry-insecure; a registry that does not answer is one line, exit 4', async (t) => {
    const binary = requireComponent(t, 'registry');
    if (binary === undefined) return;
    const registry = await startTestRegistry(binary, join(work, 'plain'), { auth: 'none', user });
    registries.push(registry);
    const overTls = externalImageRegistry(parseRegistryRef(`${registry.host}/team`), { insecure: false, credentials: undefined, credentialsSource: undefined });
    const plain = await oneLine(overTls.manifestDigest('team/frontend', 'src-1'));
    assert.match(plain.message, /did not answer GET \/v2\/team\/frontend\/manifests\/src-1 \(.*\) — it seems to speak plain HTTP: pass --registry-insecure$/);
    assert.equal(plain.exitCode, exitCodes.unreachable);
    const port = await freePort();
    const nobody = externalImageRegistry(parseRegistryRef(`127.0.0.1:${String(port)}/team`), { insecure: true, credentials: undefined, credentialsSource: undefined });
    const gone = await oneLine(nobody.manifestDigest('team/frontend', 'src-1'));
    assert.match(gone.message, new RegExp(`^registry 127\\.0\\.0\\.1:${String(port)} did not answer GET /v2/team/frontend/manifests/src-1 \\(connect ECONNREFUSED .*\\) — check --registry 127\\.0\\.0\\.1:${String(port)}/team \\(plain HTTP: --registry-insecure\\)`));
    assert.equal(gone.exitCode, exitCodes.unreachable);
    // Anonymous push and lookup where the registry asks for nothing.
    const open = externalImageRegistry(parseRegistryRef(`${registry.host}/team`), { insecure: true, credentials: undefined, credentialsSource: undefined });
    assert.equal(await open.pushArchive(archive, 'team/frontend', 'src-1'), manifestDigest);
    assert.equal(await open.manifestDigest('team/frontend', 'src-1'), manifestDigest);
  });
});
