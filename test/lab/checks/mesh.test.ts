/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { meshChecks, meshNotInstalled, proxyProblem, proxyProblems } from '../../../lab/checks/mesh.ts';

const pod = (proxy: 'none' | 'waiting' | 'ready' | 'crashed', native = false): V1Pod => {
  const container = { name: 'istio-proxy', image: 'istio/proxyv2' };
  const state =
    proxy === 'waiting'
      ? { state: { waiting: { reason: 'ErrImageNeverPull', message: 'Container image "docker.io/istio/proxyv2:1.31.0" is not present with pull policy of Never' } }, ready: false }
      : proxy === 'crashed'
        ? { state: { running: {} }, lastState: { terminated: { exitCode: 127, reason: 'Error' } }, ready: false }
        : { state: { running: {} }, ready: true };
  const statuses = proxy === 'none' ? [] : [{ name: 'istio-proxy', image: '', imageID: '', restartCount: 0, ...state }];
  return {
    metadata: { name: 'backend-1', namespace: 'tracelab-demo' },
    spec: {
      containers: [{ name: 'server', image: 'backend' }, ...(proxy === 'none' || native ? [] : [container])],
      initContainers: proxy !== 'none' && native ? [{ ...container, restartPolicy: 'Always' }] : [],
    },
    status: native ? { initContainerStatuses: statuses } : { containerStatuses: statuses },
  };
};

describe('proxyProblem()', () => {
  it('names what keeps the sidecar from running: missing, waiting with the kubelet reason, not ready after an exit', () => {
    assert.equal(proxyProblem(pod('ready')), undefined);
    assert.equal(proxyProblem(pod('ready', true)), undefined, 'a native sidecar (an init container that keeps running)');
    assert.equal(proxyProblem(pod('none')), 'pod tracelab-demo/backend-1 has no istio-proxy container: made before the mesh was installed, or injection is off for its namespace (npm run deploy:demo rolls the demo into the mesh)');
    assert.match(proxyProblem(pod('waiting', true)) ?? '', /^pod tracelab-demo\/backend-1 istio-proxy ErrImageNeverPull: Container image "docker\.io\/istio\/proxyv2:1\.31\.0" is not present/);
    assert.equal(proxyProblem(pod('crashed')), 'pod tracelab-demo/backend-1 istio-proxy not ready (last exit 127 Error)');
  });

  it("names the proxy's init container that cannot start, which holds the proxy at PodInitializing", () => {
    const held = pod('waiting', true);
    held.spec?.initContainers?.unshift({ name: 'istio-validation', image: 'docker.io/istio/proxyv2:1.31.0' });
    held.status = {
      initContainerStatuses: [
        { name: 'istio-validation', image: '', imageID: '', restartCount: 0, ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "docker.io/istio/proxyv2:1.31.0"' } } },
        { name: 'istio-proxy', image: '', imageID: '', restartCount: 0, ready: false, state: { waiting: { reason: 'PodInitializing' } } },
      ],
    };
    assert.equal(proxyProblem(held), 'pod tracelab-demo/backend-1 istio-validation ImagePullBackOff: Back-off pulling image "docker.io/istio/proxyv2:1.31.0"');
  });

  it('says a proxy the kubelet has not reported on yet is not started, not that it is not ready', () => {
    const fresh = pod('ready', true);
    fresh.status = { phase: 'Pending' };
    assert.equal(proxyProblem(fresh), 'pod tracelab-demo/backend-1 istio-proxy not started yet (pod Pending)');
  });
});

describe('proxyProblems()', () => {
  it('lists a proxy that cannot start first, then one on its way, then pods without a proxy', () => {
    const named = (p: V1Pod, name: string): V1Pod => {
      p.metadata = { name, namespace: 'tracelab-demo' };
      return p;
    };
    const fresh = named(pod('ready', true), 'starting');
    fresh.status = { phase: 'Pending' };
    const order = proxyProblems([named(pod('none'), 'old'), fresh, named(pod('ready'), 'fine'), named(pod('crashed'), 'crashed'), named(pod('waiting', true), 'pulling')]);
    assert.deepEqual(
      order.map((line) => /^pod tracelab-demo\/(\S+)/.exec(line)?.[1]),
      ['pulling', 'starting', 'crashed', 'old'],
    );
  });
});

describe('meshNotInstalled()', () => {
  it('lists every mesh check as not installed, none as passed', () => {
    const rows = meshNotInstalled();
    assert.deepEqual(rows.map((row) => row.id), meshChecks.map((check) => check.id));
    assert.ok(rows.every((row) => row.status === 'not-installed'));
  });
});
