import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import { UserError } from '../../../core/errors.ts';
import { createKube, loadKubeConfig } from '../../../core/kube/client.ts';

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
