import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { buildctlArgs, buildkitdConfig, buildScript, renderBuildkitPod } from '../../../build/builders/buildkit.ts';
import type { BuildRequest, ImageToBuild } from '../../../build/builder.ts';

const registry = 'registry.tracelab-registry.svc.cluster.local:5000';
const backend: ImageToBuild = {
  label: 'backend',
  image: `${registry}/tracelab/backend:src-abc`,
  buildArgs: { SERVICE: 'backend', NODE_IMAGE: `${registry}/tracelab/node-base@sha256:${'a'.repeat(64)}` },
  cacheImage: `${registry}/tracelab/cache:backend`,
};
const frontend: ImageToBuild = { ...backend, label: 'frontend', image: `${registry}/tracelab/frontend:src-def`, buildArgs: { SERVICE: 'frontend' }, cacheImage: `${registry}/tracelab/cache:frontend` };
const request: BuildRequest = { images: [frontend, backend], context: () => Readable.from([]), insecureRegistries: [registry] };

describe('the BuildKit builder', () => {
  it('pushes each image and keeps its layer cache in the registry, with reproducible timestamps', () => {
    const args = buildctlArgs(backend, [registry]);
    const value = (flag: string): string[] => args.flatMap((arg, i) => (args[i - 1] === flag ? [arg] : []));
    assert.deepEqual(value('--output'), [`type=image,name=${registry}/tracelab/backend:src-abc,push=true,rewrite-timestamp=true,registry.insecure=true`]);
    assert.deepEqual(value('--export-cache'), [`type=registry,ref=${registry}/tracelab/cache:backend,mode=max,registry.insecure=true`]);
    assert.deepEqual(value('--import-cache'), [`type=registry,ref=${registry}/tracelab/cache:backend,registry.insecure=true`]);
    assert.deepEqual(value('--opt'), ['build-arg:SOURCE_DATE_EPOCH=0', 'build-arg:SERVICE=backend', `build-arg:NODE_IMAGE=${registry}/tracelab/node-base@sha256:${'a'.repeat(64)}`]);
  });

  it('reaches a registry outside the insecure list over TLS', () => {
    const args = buildctlArgs({ ...backend, image: 'ghcr.io/me/backend:v1' }, []);
    assert.ok(args.includes('type=image,name=ghcr.io/me/backend:v1,push=true,rewrite-timestamp=true'));
  });

  it('tells buildkitd to speak plain HTTP to the lab registry', () => {
    assert.match(buildkitdConfig([registry]), /^\[registry\."registry\.tracelab-registry\.svc\.cluster\.local:5000"\]\n {2}http = true\n {2}insecure = true$/m);
  });

  it('builds every image in one privileged pod (one buildkitd, a buildctl each), reading the context on stdin, never restarted', () => {
    const pod = renderBuildkitPod(request, { namespace: 'tracelab-build', image: 'docker.io/moby/buildkit:v0.34.2', deadlineSeconds: 600 }, 'x1y2z3');
    assert.equal(pod.metadata?.name, 'build-frontend-backend-x1y2z3');
    assert.equal(pod.metadata.namespace, 'tracelab-build');
    assert.equal(pod.spec?.restartPolicy, 'Never');
    assert.equal(pod.spec.activeDeadlineSeconds, 600);
    const container = pod.spec.containers[0];
    assert.equal(container?.stdin, true);
    assert.equal(container.stdinOnce, true);
    assert.equal(container.securityContext?.privileged, true);
    assert.deepEqual(container.command, ['sh', '-c', buildScript]);
    const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));
    assert.equal(env.IMAGES, 'frontend backend');
    assert.deepEqual(env.ARGS_backend?.split('\n'), buildctlArgs(backend, [registry]));
    assert.ok(container.resources?.limits?.['ephemeral-storage'] !== undefined);
  });

  // The image's shell is busybox (BuildKit's own image is Alpine's): the script runs under it as under dash.
  for (const shell of [['sh'], ['/bin/busybox', 'sh']]) {
    it(`runs its script under ${shell.join(' ')}: a buildctl per image with that image's arguments, each line labelled, the digests and failures reported`, (t) => {
      if (shell[0] === '/bin/busybox' && spawnSync('/bin/busybox', ['true']).status !== 0) {
        if (process.env.CI === 'true') assert.fail('busybox is missing: apt-get install busybox-static (scripts/setup.sh --test installs it)');
        t.skip('busybox is not installed (apt-get install busybox-static)');
        return;
      }
      // buildkitd and buildctl stand-ins on PATH: the script's own shell logic runs for real.
      const bin = spawnSync('mktemp', ['-d'], { encoding: 'utf8' }).stdout.trim();
      const fake = (name: string, body: string): void => {
        spawnSync('sh', ['-c', `cat >"$1" && chmod +x "$1"`, 'write', `${bin}/${name}`], { input: `#!/bin/sh\n${body}\n` });
      };
      fake('buildkitd', `echo $$ >${bin}/buildkitd.pid; exec sleep 600`);
      fake('buildctl', [
        '[ "$3" = debug ] && exit 0',
        'for a; do case "$prev" in --metadata-file) meta=$a ;; esac; prev=$a; done',
        'case "$*" in *SERVICE=backend*) echo "#7 [build 5/11] RUN npm ci"; echo "#7 ERROR: exit code: 1"; exit 1 ;; esac',
        'echo "#3 [build 1/11] FROM base"; echo \'{"containerimage.digest": "sha256:' + 'f'.repeat(64) + '"}\' >"$meta"',
      ].join('\n'));
      const context = spawnSync('sh', ['-c', 'd=$(mktemp -d); echo FROM scratch >"$d/Dockerfile"; tar -czf - -C "$d" .'], { encoding: 'buffer' }).stdout;
      const pod = renderBuildkitPod(request, { namespace: 'tracelab-build', image: 'x', deadlineSeconds: 60 }, 'abc');
      const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((variable) => [variable.name, variable.value ?? '']));
      // A script that waited for buildkitd too would hang here: the daemon never ends by itself.
      const run = spawnSync(shell[0] ?? 'sh', [...shell.slice(1), '-c', buildScript], { input: context, encoding: 'utf8', timeout: 30_000, env: { ...env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
      spawnSync('sh', ['-c', `kill "$(cat ${bin}/buildkitd.pid)"; rm -rf ${bin}`]);
      assert.equal(run.status, 1, `a failed image fails the pod: ${run.stderr}`);
      const lines = run.stdout.split('\n').sort();
      assert.ok(lines.includes('frontend #3 [build 1/11] FROM base'), run.stdout);
      assert.ok(lines.includes(`frontend tracelab-digest sha256:${'f'.repeat(64)}`), run.stdout);
      assert.ok(lines.includes('backend #7 ERROR: exit code: 1'), run.stdout);
      assert.ok(lines.includes('backend tracelab-failed 1'), run.stdout);
    });
  }
});
