/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import { randomBytes } from 'node:crypto';
import type { V1Container, V1Pod, V1PodSecurityContext, V1Volume } from '@kubernetes/client-node';
import { UserError, exitCodes } from '../../core/errors.ts';
import { KubeApiError } from '../../core/kube/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import type { Output } from '../../core/output.ts';
import { BuildFailedError, progressLine, type Builder, type BuildRequest, type ImageToBuild } from '../builder.ts';
import { renderBuildPod, type BuildPodSettings } from '../build-pod.ts';
import { runBuildPodWithCredentials } from '../push-credentials.ts';
import { BuildLog } from '../progress.ts';

/** BuildKit's own image (buildkitd, buildctl, runc, a shell); the tests assemble the same programs under this name. */
export const buildkitImage = 'docker.io/moby/buildkit:v0.34.2';
/**
 * Upstream's rootless image: the same programs plus rootlesskit, newuidmap/newgidmap and a user 1000
 * with subordinate ids 100000-165535 (/etc/subuid, /etc/subgid); the tests assemble it too.
 */
export const buildkitRootlessImage = `${buildkitImage}-rootless`;

/**
 * How the build pod runs buildkitd. `rootless`: as uid 1000 in a user namespace rootlesskit makes
 * (no privileged container; seccomp and AppArmor unconfined so that it may unshare and mount).
 * `privileged`: as root in a privileged container. `auto`: rootless where the cluster's admission
 * accepts the rootless pod, else privileged.
 */
export const buildkitModes = ['auto', 'rootless', 'privileged'] as const;
export type BuildkitMode = (typeof buildkitModes)[number];
/** The mode when none is asked for: rootless where the cluster admits it. */
export const defaultBuildkitMode: BuildkitMode = 'auto';

/** The uid of upstream's rootless image (its /etc/subuid names it); a number, for runAsNonRoot. */
export const rootlessUid = 1000;

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
  'mkdir -p /tmp/context /tmp/run /tmp/result',
  'tar -xzf - -C /tmp/context',
  'printf "%s" "$BUILDKITD_TOML" >/tmp/buildkitd.toml',
  // $BUILDKITD: `buildkitd`, or `rootlesskit buildkitd …` in the rootless pod.
  '$BUILDKITD --config /tmp/buildkitd.toml --root /var/lib/buildkit --addr unix:///tmp/run/buildkitd.sock >/tmp/buildkitd.log 2>&1 &',
  'daemon=$!',
  // A daemon that exits (rootlesskit refused a user namespace) fails at once, its log first.
  'i=0; until buildctl --addr unix:///tmp/run/buildkitd.sock debug workers >/dev/null 2>&1; do i=$((i + 1)); if [ $i -gt 150 ] || ! kill -0 $daemon 2>/dev/null; then sed "s/^/buildkitd: /" /tmp/buildkitd.log >&2; echo "tracelab-buildkitd-failed"; exit 1; fi; sleep 0.2; done',
  'nl="',
  '"',
  'builds=""',
  'for label in $IMAGES; do',
  '  (',
  '    eval "args=\\$ARGS_$label"',
  '    set -f; IFS=$nl',
  '    if buildctl --addr unix:///tmp/run/buildkitd.sock build --progress plain --frontend dockerfile.v0 --local context=/tmp/context --local dockerfile=/tmp/context --metadata-file "/tmp/result/$label.json" $args 2>&1; then',
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

export interface BuildkitSettings extends BuildPodSettings {
  /** auto (the default): rootless where the cluster admits the rootless pod, else privileged. */
  readonly mode?: BuildkitMode | undefined;
  /** The rootless pod's image; default buildkitRootlessImage (`image` is the privileged pod's). */
  readonly rootlessImage?: string | undefined;
}

/**
 * What each way of running buildkitd needs from its pod. Rootless: uid 1000, no privileged
 * container, every capability dropped but the three newuidmap/newgidmap need in the bounding set
 * (file capabilities, hence privilege escalation allowed); seccomp and AppArmor unconfined, since
 * their default profiles refuse the unshare and mount of a user namespace; buildkitd without its
 * own PID namespace (it cannot mount a fresh /proc over the container's masked one); a read-only
 * root filesystem, scratch space and state on emptyDirs (overlayfs cannot stack on the image's).
 */
function buildkitdRuntime(mode: 'rootless' | 'privileged'): { container: Pick<V1Container, 'securityContext' | 'env' | 'volumeMounts'>; volumes: V1Volume[]; pod: V1PodSecurityContext | undefined } {
  const state: V1Volume = { name: 'state', emptyDir: { sizeLimit: '4Gi' } };
  if (mode === 'privileged') {
    return {
      container: { securityContext: { privileged: true }, env: [{ name: 'BUILDKITD', value: 'buildkitd' }], volumeMounts: [{ name: 'state', mountPath: '/var/lib/buildkit' }] },
      volumes: [state],
      pod: undefined,
    };
  }
  return {
    container: {
      securityContext: {
        runAsUser: rootlessUid,
        runAsGroup: rootlessUid,
        runAsNonRoot: true,
        privileged: false,
        allowPrivilegeEscalation: true,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'], add: ['SETUID', 'SETGID', 'SETFCAP'] },
        seccompProfile: { type: 'Unconfined' },
        appArmorProfile: { type: 'Unconfined' },
      },
      env: [
        { name: 'BUILDKITD', value: 'rootlesskit buildkitd --oci-worker-no-process-sandbox' },
        // buildkitd takes its rootless defaults only from a user namespace and a $USER that is not root.
        { name: 'USER', value: 'user' },
        { name: 'HOME', value: '/tmp' },
        { name: 'TMPDIR', value: '/tmp' },
        { name: 'XDG_RUNTIME_DIR', value: '/tmp/run' },
      ],
      volumeMounts: [
        { name: 'state', mountPath: '/var/lib/buildkit' },
        { name: 'scratch', mountPath: '/tmp' },
      ],
    },
    volumes: [state, { name: 'scratch', emptyDir: { sizeLimit: '1Gi' } }],
    // Mounted files (push credentials) readable by the build's group.
    pod: { fsGroup: rootlessUid },
  };
}

/** The build pod, rootless or privileged: one buildkitd, its state in an emptyDir, every image of the request in it. */
export function renderBuildkitPod(request: BuildRequest, settings: BuildkitSettings, suffix: string, mode: 'rootless' | 'privileged'): V1Pod {
  for (const { label } of request.images) if (!/^[a-z][a-z0-9]*$/.test(label)) throw new Error(`'${label}' cannot label a build: lowercase letters and digits only`);
  const runtime = buildkitdRuntime(mode);
  const pod = renderBuildPod(
    'buildkit',
    request.images.map((image) => image.label).join('-'),
    { ...settings, image: mode === 'rootless' ? (settings.rootlessImage ?? buildkitRootlessImage) : settings.image },
    suffix,
    {
      command: ['sh', '-c', buildScript],
      env: [
        { name: 'BUILDKITD_TOML', value: buildkitdConfig(request.insecureRegistries) },
        { name: 'IMAGES', value: request.images.map((image) => image.label).join(' ') },
        ...request.images.map((image) => ({ name: `ARGS_${image.label}`, value: buildctlArgs(image, request.insecureRegistries).join('\n') })),
        ...(runtime.container.env ?? []),
      ],
      securityContext: runtime.container.securityContext,
      volumeMounts: runtime.container.volumeMounts,
    },
    runtime.volumes,
  );
  if (pod.metadata?.labels !== undefined) pod.metadata.labels['tracelab.dev/buildkit-mode'] = mode;
  if (runtime.pod !== undefined && pod.spec !== undefined) pod.spec.securityContext = Object.assign(pod.spec.securityContext ?? {}, runtime.pod);
  return pod;
}

/**
 * Whether the cluster's admission (Pod Security, policy webhooks) accepts this pod in its
 * namespace: a server-side dry-run create, nothing stored. Undefined when it does, else why not.
 */
async function admissionRefusal(kube: KubeClient, pod: V1Pod): Promise<string | undefined> {
  try {
    await kube.request('POST', await kube.path({ apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata?.namespace }), { body: pod, query: { dryRun: 'All' } });
    return undefined;
  } catch (err) {
    if (err instanceof KubeApiError && [400, 403, 422].includes(err.status)) return err.message;
    throw err;
  }
}

/**
 * The mode to build in, checked against the cluster's admission before anything is created: the
 * one asked for, or for `auto` rootless where admitted, else privileged (said in one line).
 */
export async function chooseBuildkitMode(kube: KubeClient, request: BuildRequest, settings: BuildkitSettings, output: Output): Promise<'rootless' | 'privileged'> {
  const namespace = settings.namespace;
  const refusal = async (mode: 'rootless' | 'privileged'): Promise<string | undefined> => admissionRefusal(kube, renderBuildkitPod(request, settings, 'dryrun', mode));
  const asked = settings.mode ?? defaultBuildkitMode;
  if (asked !== 'privileged') {
    const rootless = await refusal('rootless');
    if (rootless === undefined) return 'rootless';
    if (asked === 'rootless') {
      throw new UserError(`the cluster refuses the rootless BuildKit pod in namespace ${namespace}: ${rootless} — allow it there, or pass --buildkit-mode privileged`, { exitCode: exitCodes.refused });
    }
    const privileged = await refusal('privileged');
    if (privileged !== undefined) {
      throw new UserError(`the cluster refuses both BuildKit pods in namespace ${namespace} (rootless: ${rootless}; privileged: ${privileged}) — label it pod-security.kubernetes.io/enforce=privileged (\`tracelab up builds\` does) or build elsewhere`, { exitCode: exitCodes.refused });
    }
    output.info(`  buildkit: the cluster refuses the rootless pod in ${namespace} (${rootless}) — building in a privileged pod`);
    return 'privileged';
  }
  const privileged = await refusal('privileged');
  if (privileged !== undefined) {
    throw new UserError(`the cluster refuses the privileged BuildKit pod in namespace ${namespace}: ${privileged} — label it pod-security.kubernetes.io/enforce=privileged (\`tracelab up builds\` does), or pass --buildkit-mode rootless`, { exitCode: exitCodes.refused });
  }
  return 'privileged';
}

/** The line of buildkitd's log that says why it stopped: the first error (rootlesskit's or buildkitd's own), not the exits it caused. */
function daemonFailure(log: readonly string[]): string | undefined {
  const lines = log.map((line) => line.trim()).filter((line) => line !== '');
  return lines.find((line) => /error|fail|denied|not permitted|not found|read-only/i.test(line) && !/child exited|exited: exit status/.test(line)) ?? lines.at(-1);
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
      const mode = await chooseBuildkitMode(kube, request, settings, output);
      const pod = renderBuildkitPod(request, settings, randomBytes(3).toString('hex'), mode);
      // What the script says of buildkitd itself when it did not start.
      const daemon = { log: [] as string[], failed: false };
      const result = await runBuildPodWithCredentials(
        kube,
        pod,
        request.pushCredentials,
        request.context(),
        (line) => {
          if (line.startsWith('buildkitd: ')) daemon.log.push(line.slice('buildkitd: '.length));
          if (line === 'tracelab-buildkitd-failed') daemon.failed = true;
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
      if (daemon.failed && mode === 'rootless') {
        throw new UserError(
          `rootless buildkitd did not start in build pod ${settings.namespace}/${pod.metadata?.name ?? ''} (${daemonFailure(daemon.log) ?? 'no log'}): the node does not let the pod make a user namespace (newuidmap/newgidmap, user.max_user_namespaces, AppArmor) — pass --buildkit-mode privileged`,
          { exitCode: exitCodes.buildFailed },
        );
      }
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
