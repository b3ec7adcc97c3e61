import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { buildctlArgs, buildkitdConfig, buildkitImage, buildkitRootlessImage, buildScript, renderBuildkitPod } from '../../../build/builders/buildkit.ts';
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
    const pod = renderBuildkitPod(request, { namespace: 'tracelab-build', image: 'docker.io/moby/buildkit:v0.34.2', deadlineSeconds: 600 }, 'x1y2z3', 'privileged');
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
    assert.equal(env.BUILDKITD, 'buildkitd');
    assert.equal(pod.metadata.labels?.['tracelab.dev/buildkit-mode'], 'privileged');
  });

  it('runs the rootless pod as uid 1000 in rootlesskit: never privileged, all capabilities dropped but the id-mapping three, unconfined seccomp and AppArmor, read-only root', () => {
    const pod = renderBuildkitPod(request, { namespace: 'tracelab-build', image: buildkitImage, deadlineSeconds: 600 }, 'x1y2z3', 'rootless');
    const container = pod.spec?.containers[0];
    assert.equal(container?.image, buildkitRootlessImage);
    assert.equal(buildkitRootlessImage, 'docker.io/moby/buildkit:v0.34.2-rootless');
    assert.deepEqual(container.securityContext, {
      runAsUser: 1000,
      runAsGroup: 1000,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: true,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['SETUID', 'SETGID', 'SETFCAP'] },
      seccompProfile: { type: 'Unconfined' },
      appArmorProfile: { type: 'Unconfined' },
    });
    assert.equal(pod.spec?.securityContext?.fsGroup, 1000);
    const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));
    assert.equal(env.BUILDKITD, 'rootlesskit buildkitd --oci-worker-no-process-sandbox');
    assert.equal(env.XDG_RUNTIME_DIR, '/tmp/run');
    assert.equal(env.USER, 'user', "buildkitd's rootless defaults need a $USER other than root");
    // Everything it writes is on emptyDirs: the state (overlayfs cannot stack on the image's overlay) and /tmp.
    const mounts = Object.fromEntries((container.volumeMounts ?? []).map((mount) => [mount.mountPath, mount.name]));
    assert.deepEqual(mounts, { '/var/lib/buildkit': 'state', '/tmp': 'scratch' });
    for (const volume of pod.spec.volumes ?? []) assert.ok(volume.emptyDir?.sizeLimit !== undefined, `${volume.name}: a bounded emptyDir`);
    assert.equal(pod.metadata?.labels?.['tracelab.dev/buildkit-mode'], 'rootless');
    assert.equal(renderBuildkitPod(request, { namespace: 'n', image: 'a', rootlessImage: 'mine:rootless', deadlineSeconds: 1 }, 's', 'rootless').spec?.containers[0]?.image, 'mine:rootless');
  });

  it('stops at once when the daemon exits (rootlesskit refused a user namespace), its log first and a marker the builder reads', () => {
    const bin = spawnSync('mktemp', ['-d'], { encoding: 'utf8' }).stdout.trim();
    const fake = (name: string, body: string): void => {
      spawnSync('sh', ['-c', `cat >"$1" && chmod +x "$1"`, 'write', `${bin}/${name}`], { input: `#!/bin/sh\n${body}\n` });
    };
    fake('rootlesskit', 'echo "[rootlesskit:parent] error: failed to setup UID/GID map: newuidmap 42 [0 1000 1 1 100000 65536] failed: write to uid_map failed: Operation not permitted"; exit 1');
    fake('buildctl', 'exit 1');
    const context = spawnSync('sh', ['-c', 'd=$(mktemp -d); echo FROM scratch >"$d/Dockerfile"; tar -czf - -C "$d" .'], { encoding: 'buffer' }).stdout;
    const pod = renderBuildkitPod(request, { namespace: 'tracelab-build', image: 'x', deadlineSeconds: 60 }, 'abc', 'rootless');
    const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((variable) => [variable.name, variable.value ?? '']));
    const scratch = spawnSync('mktemp', ['-d'], { encoding: 'utf8' }).stdout.trim();
    // The script's /tmp paths, here under a scratch directory of the test's own.
    const script = buildScript.replaceAll('/tmp/', `${scratch}/`);
    const run = spawnSync('sh', ['-c', script], { input: context, encoding: 'utf8', timeout: 30_000, env: { ...env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    spawnSync('rm', ['-rf', bin, scratch]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^buildkitd: \[rootlesskit:parent\] error: failed to setup UID\/GID map/m);
    assert.equal(run.stdout.trim().split('\n').at(-1), 'tracelab-buildkitd-failed');
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
      const pod = renderBuildkitPod(request, { namespace: 'tracelab-build', image: 'x', deadlineSeconds: 60 }, 'abc', 'privileged');
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
