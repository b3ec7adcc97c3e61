/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import type { Output } from '../../core/output.ts';
import { BuildFailedError, type Builder, type BuildRequest, type BuildResult } from '../builder.ts';
import { buildContainer, runBuildPod } from '../build-pod.ts';
import { BuildLog } from '../progress.ts';

/** BuildKit's own image (buildkitd, buildctl, runc, a shell); the tests assemble the same programs under this name. */
export const buildkitImage = 'docker.io/moby/buildkit:v0.34.2';

export const digestMarker = 'tracelab-digest';

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
 * The build pod's script: the context from stdin, buildkitd in the background, then buildctl with
 * the arguments after it; the pushed digest last, on a line of its own.
 */
export const buildScript = [
  'set -eu',
  'mkdir -p /tmp/context /run/buildkit',
  'tar -xzf - -C /tmp/context',
  'printf "%s" "$BUILDKITD_TOML" >/tmp/buildkitd.toml',
  'buildkitd --config /tmp/buildkitd.toml --root /var/lib/buildkit --addr unix:///run/buildkit/buildkitd.sock >/tmp/buildkitd.log 2>&1 &',
  'i=0; until buildctl --addr unix:///run/buildkit/buildkitd.sock debug workers >/dev/null 2>&1; do i=$((i + 1)); if [ $i -gt 150 ]; then cat /tmp/buildkitd.log >&2; echo "buildkitd did not start" >&2; exit 1; fi; sleep 0.2; done',
  'buildctl --addr unix:///run/buildkit/buildkitd.sock build --progress plain --frontend dockerfile.v0 --local context=/tmp/context --local dockerfile=/tmp/context --metadata-file /tmp/metadata.json "$@"',
  `echo "${digestMarker} $(sed -n 's/.*"containerimage.digest": *"\\(sha256:[0-9a-f]*\\)".*/\\1/p' /tmp/metadata.json)"`,
].join('\n');

/** buildctl's arguments for one request: build args, the push, the registry cache, reproducible timestamps. */
export function buildctlArgs(request: BuildRequest): string[] {
  const insecure = (ref: string): string => (request.insecureRegistries.some((host) => ref.startsWith(`${host}/`)) ? ',registry.insecure=true' : '');
  return [
    // The same sources give the same image: timestamps from the epoch, not the build's clock.
    '--opt', 'build-arg:SOURCE_DATE_EPOCH=0',
    ...Object.entries(request.buildArgs).flatMap(([key, value]) => ['--opt', `build-arg:${key}=${value}`]),
    '--output', `type=image,name=${request.image},push=true,rewrite-timestamp=true${insecure(request.image)}`,
    '--export-cache', `type=registry,ref=${request.cacheImage},mode=max${insecure(request.cacheImage)}`,
    '--import-cache', `type=registry,ref=${request.cacheImage}${insecure(request.cacheImage)}`,
  ];
}

export interface BuildkitSettings {
  readonly namespace: string;
  readonly image: string;
  /** Build pods are deleted when done; one that outlives this is stopped by the kubelet. */
  readonly deadlineSeconds: number;
}

/** The build pod: privileged (buildkitd mounts and unshares), in the build namespace, gone when the build ends. */
export function renderBuildkitPod(request: BuildRequest, settings: BuildkitSettings, suffix: string): V1Pod {
  const labels = { 'app.kubernetes.io/name': 'buildkit', 'app.kubernetes.io/managed-by': 'tracelab', 'tracelab.dev/build': request.label };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `build-${request.label}-${suffix}`, namespace: settings.namespace, labels },
    spec: {
      restartPolicy: 'Never',
      activeDeadlineSeconds: settings.deadlineSeconds,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      containers: [
        {
          name: buildContainer,
          image: settings.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', buildScript, 'build', ...buildctlArgs(request)],
          env: [{ name: 'BUILDKITD_TOML', value: buildkitdConfig(request.insecureRegistries) }],
          stdin: true,
          stdinOnce: true,
          securityContext: { privileged: true },
          resources: {
            requests: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '1Gi' },
            limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '4Gi' },
          },
          volumeMounts: [{ name: 'state', mountPath: '/var/lib/buildkit' }],
        },
      ],
      volumes: [{ name: 'state', emptyDir: { sizeLimit: '4Gi' } }],
    },
  };
}

/** Builds in a pod running buildkitd and buildctl side by side (the daemonless way), one pod per image. */
export function buildkitBuilder(kube: KubeClient, settings: BuildkitSettings): Builder {
  return {
    name: 'buildkit',
    async build(request: BuildRequest, output: Output, signal: AbortSignal): Promise<BuildResult> {
      const log = new BuildLog();
      let digest: string | undefined;
      const pod = renderBuildkitPod(request, settings, randomBytes(3).toString('hex'));
      const result = await runBuildPod(
        kube,
        pod,
        request.context(),
        (line) => {
          const marker = new RegExp(`^${digestMarker} (sha256:[0-9a-f]{64})$`).exec(line);
          if (marker !== null) digest = marker[1];
          const started = log.read(line);
          if (started !== undefined) output.info(`  ${request.label}: ${started.length > 110 ? `${started.slice(0, 109)}…` : started}`);
          else output.detail(`  ${request.label} │ ${line}`);
        },
        signal,
      );
      if (result.exitCode !== 0 || digest === undefined) {
        const reason = log.failure ?? result.reason ?? (result.exitCode === 0 ? 'no digest was printed' : `exit code ${String(result.exitCode)}`);
        throw new BuildFailedError(request.label, log.failedStep, log.tail(), reason);
      }
      return { digest };
    },
  };
}
