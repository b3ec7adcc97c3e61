import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buildctlArgs, buildkitdConfig, buildScript, renderBuildkitPod } from '../../../build/builders/buildkit.ts';
import type { BuildRequest } from '../../../build/builder.ts';

const registry = 'registry.tracelab-registry.svc.cluster.local:5000';
const request: BuildRequest = {
  label: 'backend',
  image: `${registry}/tracelab/backend:src-abc`,
  buildArgs: { SERVICE: 'backend', NODE_IMAGE: `${registry}/tracelab/node-base@sha256:${'a'.repeat(64)}` },
  context: () => Readable.from([]),
  cacheImage: `${registry}/tracelab/cache:backend`,
  insecureRegistries: [registry],
};

describe('the BuildKit builder', () => {
  it('pushes the image and keeps its layer cache in the registry, with reproducible timestamps', () => {
    const args = buildctlArgs(request);
    const value = (flag: string): string[] => args.flatMap((arg, i) => (args[i - 1] === flag ? [arg] : []));
    assert.deepEqual(value('--output'), [`type=image,name=${registry}/tracelab/backend:src-abc,push=true,rewrite-timestamp=true,registry.insecure=true`]);
    assert.deepEqual(value('--export-cache'), [`type=registry,ref=${registry}/tracelab/cache:backend,mode=max,registry.insecure=true`]);
    assert.deepEqual(value('--import-cache'), [`type=registry,ref=${registry}/tracelab/cache:backend,registry.insecure=true`]);
    assert.deepEqual(value('--opt'), ['build-arg:SOURCE_DATE_EPOCH=0', 'build-arg:SERVICE=backend', `build-arg:NODE_IMAGE=${registry}/tracelab/node-base@sha256:${'a'.repeat(64)}`]);
  });

  it('reaches a registry outside the insecure list over TLS', () => {
    const args = buildctlArgs({ ...request, image: 'ghcr.io/me/backend:v1', insecureRegistries: [] });
    assert.ok(args.includes('type=image,name=ghcr.io/me/backend:v1,push=true,rewrite-timestamp=true'));
  });

  it('tells buildkitd to speak plain HTTP to the lab registry', () => {
    assert.match(buildkitdConfig([registry]), /^\[registry\."registry\.tracelab-registry\.svc\.cluster\.local:5000"\]\n {2}http = true\n {2}insecure = true$/m);
  });

  it('runs one privileged pod per image, reading the context on stdin, never restarted', () => {
    const pod = renderBuildkitPod(request, { namespace: 'tracelab-build', image: 'docker.io/moby/buildkit:v0.34.2', deadlineSeconds: 600 }, 'x1y2z3');
    assert.equal(pod.metadata?.name, 'build-backend-x1y2z3');
    assert.equal(pod.metadata.namespace, 'tracelab-build');
    assert.equal(pod.spec?.restartPolicy, 'Never');
    assert.equal(pod.spec.activeDeadlineSeconds, 600);
    const container = pod.spec.containers[0];
    assert.equal(container?.stdin, true);
    assert.equal(container.stdinOnce, true);
    assert.equal(container.securityContext?.privileged, true);
    assert.deepEqual(container.command?.slice(0, 4), ['sh', '-c', buildScript, 'build']);
    assert.ok(container.resources?.limits?.['ephemeral-storage'] !== undefined);
  });
});
