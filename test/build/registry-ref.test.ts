import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { apiHost, parseRegistryRef, repositoryUnder } from '../../build/registry-ref.ts';
import { credentialsFor, dockerConfigFor, hostsIn } from '../../build/docker-config.ts';

describe('parseRegistryRef()', () => {
  const good: [string, { host: string; path: string }][] = [
    ['registry.example.com:5000/team/tracelab', { host: 'registry.example.com:5000', path: 'team/tracelab' }],
    ['ghcr.io/me', { host: 'ghcr.io', path: 'me' }],
    ['localhost:5000', { host: 'localhost:5000', path: '' }],
    ['localhost/lab/', { host: 'localhost', path: 'lab' }],
    ['127.0.0.1:41234/a.b/c_d/e__f/g--h', { host: '127.0.0.1:41234', path: 'a.b/c_d/e__f/g--h' }],
    ['[::1]:5000/team', { host: '[::1]:5000', path: 'team' }],
    ['docker.io/someone', { host: 'docker.io', path: 'someone' }],
    ['Registry.Example.com/team', { host: 'registry.example.com', path: 'team' }],
  ];
  for (const [text, parsed] of good) {
    it(`reads ${text}`, () => {
      assert.deepEqual(parseRegistryRef(text), parsed);
    });
  }

  const example = ' — e.g. --registry registry.example.com:5000/team/tracelab';
  const bad: [string, string][] = [
    ['', "--registry '' is empty: name the registry and a repository prefix"],
    ['https://registry.example.com/team', "--registry 'https://registry.example.com/team' has a scheme: leave out https:// (HTTPS is the default; a registry on plain HTTP takes --registry-insecure)"],
    ['team/tracelab', "--registry 'team/tracelab' does not start with a registry host ('team' would be a Docker Hub repository): start it with the host, and the port if not 443"],
    ['registry.example.com/team/tracelab:v1', "--registry 'registry.example.com/team/tracelab:v1' has a tag: REF is where images go, without a tag or digest"],
    [`registry.example.com/team@sha256:${'a'.repeat(64)}`, `--registry 'registry.example.com/team@sha256:${'a'.repeat(64)}' has a digest: REF is where images go, without a tag or digest`],
    ['registry.example.com/Team', "--registry 'registry.example.com/Team' has repository path component 'Team': lowercase letters, digits and single separators (. _ __ -) only"],
    ['registry.example.com//team', "--registry 'registry.example.com//team' has repository path component '': lowercase letters, digits and single separators (. _ __ -) only"],
    ['registry.example.com:99999/team', "--registry 'registry.example.com:99999/team' has port 99999: a port is 1 to 65535"],
    ['bad_host.example.com/team', "--registry 'bad_host.example.com/team' does not start with a registry host ('bad_host.example.com' would be a Docker Hub repository): start it with the host, and the port if not 443"],
    [`r.io/${'a'.repeat(250)}`, `--registry 'r.io/${'a'.repeat(250)}' is too long: an image name has at most 255 characters`],
  ];
  for (const [text, message] of bad) {
    it(`refuses '${text.slice(0, 40)}' in one line naming the flag and the fix`, () => {
      assert.throws(() => parseRegistryRef(text), (err: Error) => {
        assert.equal(err.name, 'UserError');
        assert.equal(err.message, message + example);
        return true;
      });
    });
  }

  it('puts the demo\'s images under the prefix; Docker Hub\'s API is at registry-1.docker.io', () => {
    assert.equal(repositoryUnder({ host: 'r.io', path: 'team/tracelab' }, 'backend'), 'team/tracelab/backend');
    assert.equal(repositoryUnder({ host: 'localhost:5000', path: '' }, 'backend'), 'backend');
    assert.equal(apiHost('docker.io'), 'registry-1.docker.io');
    assert.equal(apiHost('registry.example.com:5000'), 'registry.example.com:5000');
  });
});

describe('credentialsFor() and dockerConfigFor()', () => {
  const config = (auths: Record<string, unknown>): string => JSON.stringify({ auths });
  const basic = Buffer.from('bob:s3cr:et').toString('base64');

  it('finds the host by any key docker writes: bare, with a scheme, with a path; auth or username/password', () => {
    assert.deepEqual(credentialsFor(config({ 'r.io:5000': { auth: basic } }), 'r.io:5000', 's'), { username: 'bob', password: 's3cr:et' });
    assert.deepEqual(credentialsFor(config({ 'https://r.io:5000/v1/': { username: 'u', password: 'p' } }), 'r.io:5000', 's'), { username: 'u', password: 'p' });
    assert.deepEqual(credentialsFor(config({ 'https://index.docker.io/v1/': { auth: basic } }), 'docker.io', 's'), { username: 'bob', password: 's3cr:et' });
    assert.equal(credentialsFor(config({ 'other.io': { auth: basic } }), 'r.io:5000', 's'), undefined);
    assert.deepEqual(hostsIn(config({ 'https://other.io/v1/': {}, 'r.io': {} })), ['other.io', 'r.io']);
  });

  it('says in one line what it cannot use, never the secret', () => {
    assert.throws(() => credentialsFor('{', 'r.io', "pull secret 'x'"), /^UserError: pull secret 'x' is not JSON: make it again with kubectl create secret docker-registry$/);
    assert.throws(() => credentialsFor(config({ 'r.io': { identitytoken: 'tok' } }), 'r.io', "pull secret 'x'"), /holds an identity or registry token, which tracelab does not exchange/);
    assert.throws(() => credentialsFor(config({ 'r.io': { auth: Buffer.from('nocolon').toString('base64') } }), 'r.io', "pull secret 'x'"), (err: Error) => !err.message.includes('nocolon') && /not base64 of user:password/.test(err.message));
  });

  it('gives the build pods one registry\'s entry, and Docker Hub\'s under the key its tools look for', () => {
    assert.deepEqual(JSON.parse(dockerConfigFor('r.io:5000', { username: 'bob', password: 'pw' })), { auths: { 'r.io:5000': { auth: Buffer.from('bob:pw').toString('base64') } } });
    assert.deepEqual(Object.keys((JSON.parse(dockerConfigFor('docker.io', { username: 'bob', password: 'pw' })) as { auths: object }).auths), ['https://index.docker.io/v1/']);
  });
});
