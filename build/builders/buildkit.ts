/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import type { Output } from '../../core/output.ts';
import { BuildFailedError, progressLine, type Builder, type BuildRequest, type ImageToBuild } from '../builder.ts';
import { renderBuildPod, runBuildPod, type BuildPodSettings } from '../build-pod.ts';
import { BuildLog } from '../progress.ts';

/** BuildKit's own image (buildkitd, buildctl, runc, a shell); the tests assemble the same programs under this name. */
export const buildkitImage = 'docker.io/moby/buildkit:v0.34.2';

/** buildkitd.toml: the OCI worker, plain HTTP to the given registries. */
export function buildkitdConfig(insecureRegistries: readonly string[]): string {
  return [
    '[worker.oci]',
    '  enabled = true',
    '[worker.containerd]',
    '  enabled = false',
    ...insecureRegistries.flatMap((host) => [`[registry.${JSON.stringify(host)}]`, '  http = true', '  insecure = true']),
    '',
  ].join('\n');
}

/**
 * The build pod's script: the context from stdin, one buildkitd in the background, then a buildctl
 * per image at once ($IMAGES; each one's arguments in $ARGS_<label>, a line each), every line of
 * its log prefixed with its label, its digest (or exit code) last. The images share buildkitd, so
 * the base image is pulled and unpacked once and common steps run once.
 */
export const buildScript = [
  'set -eu',
  'mkdir -p /tmp/context /run/buildkit /tmp/result',
  'tar -xzf - -C /tmp/context',
  'printf "%s" "$BUILDKITD_TOML" >/tmp/buildkitd.toml',
  'buildkitd --config /tmp/buildkitd.toml --root /var/lib/buildkit --addr unix:///run/buildkit/buildkitd.sock >/tmp/buildkitd.log 2>&1 &',
  'i=0; until buildctl --addr unix:///run/buildkit/buildkitd.sock debug workers >/dev/null 2>&1; do i=$((i + 1)); if [ $i -gt 150 ]; then cat /tmp/buildkitd.log >&2; echo "buildkitd did not start" >&2; exit 1; fi; sleep 0.2; done',
  'nl="',
  '"',
  'builds=""',
  'for label in $IMAGES; do',
  '  (',
  '    eval "args=\\$ARGS_$label"',
  '    set -f; IFS=$nl',
  '    if buildctl --addr unix:///run/buildkit/buildkitd.sock build --progress plain --frontend dockerfile.v0 --local context=/tmp/context --local dockerfile=/tmp/context --metadata-file "/tmp/result/$label.json" $args 2>&1; then',
  `      echo "tracelab-digest $(sed -n 's/.*"containerimage.digest": *"\\(sha256:[0-9a-f]*\\)".*/\\1/p' "/tmp/result/$label.json")"`,
  '    else',
  '      status=$?; touch "/tmp/result/$label.failed"; echo "tracelab-failed $status"',
  '    fi | while IFS= read -r line; do printf "%s %s\\n" "$label" "$line"; done',
  '  ) &',
  '  builds="$builds $!"',
  'done',
  // Not a bare `wait`: buildkitd runs on in the background.
  'wait $builds',
  'for label in $IMAGES; do [ ! -e "/tmp/result/$label.failed" ] || exit 1; done',
].join('\n');

/** buildctl's arguments for one image: build args, the push, the registry cache, reproducible timestamps. */
export function buildctlArgs(image: ImageToBuild, insecureRegistries: readonly string[]): string[] {
  const insecure = (ref: string): string => (insecureRegistries.some((host) => ref.startsWith(`${host}/`)) ? ',registry.insecure=true' : '');
  return [
    // The same sources give the same image: timestamps from the epoch, not the build's clock.
    '--opt', 'build-arg:SOURCE_DATE_EPOCH=0',
    ...Object.entries(image.buildArgs).flatMap(([key, value]) => ['--opt', `build-arg:${key}=${value}`]),
    '--output', `type=image,name=${image.image},push=true,rewrite-timestamp=true${insecure(image.image)}`,
    '--export-cache', `type=registry,ref=${image.cacheImage},mode=max${insecure(image.cacheImage)}`,
    '--import-cache', `type=registry,ref=${image.cacheImage}${insecure(image.cacheImage)}`,
  ];
}

export type BuildkitSettings = BuildPodSettings;

/** The build pod: privileged (buildkitd mounts and unshares), its state in an emptyDir, every image of the request in it. */
export function renderBuildkitPod(request: BuildRequest, settings: BuildkitSettings, suffix: string): V1Pod {
  for (const { label } of request.images) if (!/^[a-z][a-z0-9]*$/.test(label)) throw new Error(`'${label}' cannot label a build: lowercase letters and digits only`);
  return renderBuildPod(
    'buildkit',
    request.images.map((image) => image.label).join('-'),
    settings,
    suffix,
    {
      command: ['sh', '-c', buildScript],
      env: [
        { name: 'BUILDKITD_TOML', value: buildkitdConfig(request.insecureRegistries) },
        { name: 'IMAGES', value: request.images.map((image) => image.label).join(' ') },
        ...request.images.map((image) => ({ name: `ARGS_${image.label}`, value: buildctlArgs(image, request.insecureRegistries).join('\n') })),
      ],
      securityContext: { privileged: true },
      volumeMounts: [{ name: 'state', mountPath: '/var/lib/buildkit' }],
    },
    [{ name: 'state', emptyDir: { sizeLimit: '4Gi' } }],
  );
}

/** Builds every image of a request in one pod running buildkitd and a buildctl per image (the daemonless way). */
export function buildkitBuilder(kube: KubeClient, settings: BuildkitSettings): Builder {
  return {
    name: 'buildkit',
    async build(request: BuildRequest, output: Output, signal: AbortSignal): Promise<ReadonlyMap<string, string>> {
      const logs = new Map(request.images.map((image) => [image.label, new BuildLog()]));
      const digests = new Map<string, string>();
      const failed = new Map<string, string>();
      const plain = new BuildLog();
      const result = await runBuildPod(
        kube,
        renderBuildkitPod(request, settings, randomBytes(3).toString('hex')),
        request.context(),
        (line) => {
          const space = line.indexOf(' ');
          const label = line.slice(0, space);
          const log = logs.get(label);
          if (log === undefined) {
            plain.read(line);
            output.detail(`  buildkit │ ${line}`);
            return;
          }
          const rest = line.slice(space + 1);
          const digest = /^tracelab-digest (sha256:[0-9a-f]{64})$/.exec(rest)?.[1];
          if (digest !== undefined) digests.set(label, digest);
          const failure = /^tracelab-failed (\d+)$/.exec(rest)?.[1];
          if (failure !== undefined) failed.set(label, failure);
          const started = log.read(rest);
          if (started !== undefined) output.info(progressLine(label, started));
          else output.detail(`  ${label} │ ${rest}`);
        },
        signal,
      );
      for (const image of request.images) {
        if (digests.has(image.label)) continue;
        const log = logs.get(image.label) ?? plain;
        const status = failed.get(image.label);
        const reason = log.failure ?? result.reason ?? (status !== undefined ? `buildctl exit code ${status}` : `the build pod ended with exit code ${String(result.exitCode)}`);
        const tail = log.tail();
        throw new BuildFailedError(image.label, log.failedStep, tail.length > 0 ? tail : plain.tail(), reason);
      }
      return digests;
    },
  };
}
