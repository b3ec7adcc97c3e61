import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kanikoArgs, renderKanikoPod } from '../../../build/builders/kaniko.ts';

const registry = 'registry.tracelab-registry.svc.cluster.local:5000';
const image = { label: 'frontend', image: `${registry}/tracelab/frontend:src-abc`, buildArgs: { SERVICE: 'frontend' }, cacheImage: `${registry}/tracelab/cache:frontend` };

// Kaniko's image cannot be pulled here: these check the pod up to that edge.
describe('the kaniko builder', () => {
  it('reads a gzip tar context on stdin, pushes, caches in the registry and writes the digest as its termination message', () => {
    assert.deepEqual(kanikoArgs(image, [registry]), [
      '--context=tar://stdin',
      '--dockerfile=Dockerfile',
      `--destination=${registry}/tracelab/frontend:src-abc`,
      '--build-arg=SERVICE=frontend',
      '--cache=true',
      `--cache-repo=${registry}/tracelab/cache`,
      '--reproducible',
      '--digest-file=/dev/termination-log',
      `--insecure-registry=${registry}`,
      `--skip-tls-verify-registry=${registry}`,
    ]);
  });

  it('runs unprivileged, a pod per image, stdin once, never restarted', () => {
    const pod = renderKanikoPod(image, [registry], { namespace: 'tracelab-build', image: 'ghcr.io/osscontainertools/kaniko:v1.28.0', deadlineSeconds: 900 }, 'abc123');
    assert.equal(pod.metadata?.name, 'build-frontend-abc123');
    const container = pod.spec?.containers[0];
    assert.equal(container?.securityContext?.privileged, undefined);
    assert.equal(container?.stdin, true);
    assert.equal(container.stdinOnce, true);
    assert.equal(container.terminationMessagePolicy, 'File');
    assert.equal(pod.spec?.restartPolicy, 'Never');
  });
});
