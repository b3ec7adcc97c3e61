import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import type { Output } from '../../core/output.ts';
import { BuildFailedError, progressLine, type Builder, type BuildRequest, type ImageToBuild } from '../builder.ts';
import { renderBuildPod, type BuildPodSettings } from '../build-pod.ts';
import { runBuildPodWithCredentials } from '../push-credentials.ts';

/**
 * The maintained fork's executor (GoogleContainerTools/kaniko was archived in June 2025). Its image
 * cannot be had here: the tests stop at the pod it renders.
 */
export const kanikoImage = 'ghcr.io/osscontainertools/kaniko:v1.28.0';

/** Kaniko's flags for one image: context from stdin, the push, the registry cache, the digest as the termination message. */
export function kanikoArgs(image: ImageToBuild, insecureRegistries: readonly string[]): string[] {
  const cacheRepo = image.cacheImage.replace(/:[^/:]+$/, '');
  return [
    '--context=tar://stdin',
    '--dockerfile=Dockerfile',
    `--destination=${image.image}`,
    ...Object.entries(image.buildArgs).map(([key, value]) => `--build-arg=${key}=${value}`),
    '--cache=true',
    `--cache-repo=${cacheRepo}`,
    // No timestamps in the image: the same sources give the same digest.
    '--reproducible',
    '--digest-file=/dev/termination-log',
    ...insecureRegistries.flatMap((host) => [`--insecure-registry=${host}`, `--skip-tls-verify-registry=${host}`]),
  ];
}

export type KanikoSettings = BuildPodSettings;

/** Kaniko runs as root in its container but needs no privileges: it unpacks and snapshots the filesystem itself. One pod per image. */
export function renderKanikoPod(image: ImageToBuild, insecureRegistries: readonly string[], settings: KanikoSettings, suffix: string): V1Pod {
  return renderBuildPod('kaniko', image.label, settings, suffix, { args: kanikoArgs(image, insecureRegistries), terminationMessagePolicy: 'File' });
}

/** Kaniko's log has no step numbering: a line per Dockerfile instruction it runs. */
function kanikoStep(line: string): string | undefined {
  return /(?:INFO|info)\[\d+\] ((?:RUN|COPY|FROM|WORKDIR|ENV|USER|CMD|ARG|EXPOSE) .*)$/.exec(line)?.[1];
}

/** A pod per image, all at once, each reading the context on stdin. */
export function kanikoBuilder(kube: KubeClient, settings: KanikoSettings): Builder {
  const buildOne = async (image: ImageToBuild, request: BuildRequest, output: Output, signal: AbortSignal): Promise<[string, string]> => {
    let step: string | undefined;
    const lines: string[] = [];
    const result = await runBuildPodWithCredentials(
      kube,
      renderKanikoPod(image, request.insecureRegistries, settings, randomBytes(3).toString('hex')),
      request.pushCredentials,
      request.context(),
      (line) => {
        lines.push(line);
        const started = kanikoStep(line);
        if (started !== undefined) {
          step = started;
          output.info(progressLine(image.label, started));
        } else output.detail(`  ${image.label} │ ${line}`);
      },
      signal,
    );
    const digest = /sha256:[0-9a-f]{64}/.exec(result.message ?? '')?.[0];
    if (result.exitCode !== 0 || digest === undefined) {
      throw new BuildFailedError(image.label, step, lines.filter((line) => line.trim() !== '').slice(-20), result.reason ?? `exit code ${String(result.exitCode)}`);
    }
    return [image.label, digest];
  };
  return {
    name: 'kaniko',
    async build(request, output, signal) {
      // Every pod is waited for (and deleted) before a failure is reported.
      const settled = await Promise.allSettled(request.images.map((image) => buildOne(image, request, output, signal)));
      const failed = settled.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return new Map(settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])));
    },
  };
}
