import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { buildHint, componentPath, componentVersions, freePort, waitForHttp } from '../../testenv/components.ts';

describe('componentPath()', () => {
  it('points into $TRACELAB_CACHE/bin', () => {
    const saved = process.env.TRACELAB_CACHE;
    process.env.TRACELAB_CACHE = '/somewhere/cache';
    try {
      assert.equal(componentPath('kube-apiserver'), path.join('/somewhere/cache', 'bin', 'kube-apiserver'));
    } finally {
      if (saved === undefined) delete process.env.TRACELAB_CACHE;
      else process.env.TRACELAB_CACHE = saved;
    }
  });
});

describe('buildHint()', () => {
  it('names the build.sh components that provide the binaries', () => {
    assert.equal(buildHint(['kube-apiserver', 'kubectl', 'promtool']), 'bash testenv/components/build.sh kubernetes prometheus');
  });
});

describe('componentVersions()', () => {
  it('reads every pin from versions.env', () => {
    const versions = componentVersions();
    for (const key of ['JAEGER_VERSION', 'PROMETHEUS_VERSION', 'ETCD_VERSION', 'KUBERNETES_VERSION', 'KWOK_VERSION']) {
      assert.match(versions[key] ?? '', /^v\d+\.\d+\.\d+$/, key);
    }
  });
});

describe('freePort()', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  });
});

describe('waitForHttp()', () => {
  it('says what it is still waiting for when the deadline passes', async () => {
    const port = await freePort();
    await assert.rejects(
      waitForHttp(`http://127.0.0.1:${port}/ready`, { what: 'the probe server', deadlineMs: 300, intervalMs: 50 }),
      /still waiting for the probe server after 300 ms \(GET http:\/\/127\.0\.0\.1:\d+\/ready; last: .*ECONNREFUSED/,
    );
  });
});
