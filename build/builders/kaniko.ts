/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import type { Output } from '../../core/output.ts';
import { BuildFailedError, type Builder, type BuildRequest, type BuildResult } from '../builder.ts';
import { buildContainer, runBuildPod } from '../build-pod.ts';

/**
 * The maintained fork's executor (GoogleContainerTools/kaniko was archived in June 2025). Its image
 * cannot be had here: the tests stop at the pod it renders.
 */
export const kanikoImage = 'ghcr.io/osscontainertools/kaniko:v1.28.0';

/** Kaniko's flags for one request: context from stdin, the push, the registry cache, the digest as the termination message. */
export function kanikoArgs(request: BuildRequest): string[] {
  const cacheRepo = request.cacheImage.replace(/:[^/:]+$/, '');
  return [
    '--context=tar://stdin',
    '--dockerfile=Dockerfile',
    `--destination=${request.image}`,
    ...Object.entries(request.buildArgs).map(([key, value]) => `--build-arg=${key}=${value}`),
    '--cache=true',
    `--cache-repo=${cacheRepo}`,
    // No timestamps in the image: the same sources give the same digest.
    '--reproducible',
    '--digest-file=/dev/termination-log',
    ...request.insecureRegistries.flatMap((host) => [`--insecure-registry=${host}`, `--skip-tls-verify-registry=${host}`]),
  ];
}

export interface KanikoSettings {
  readonly namespace: string;
  readonly image: string;
  readonly deadlineSeconds: number;
}

/** Kaniko runs as root in its container but needs no privileges: it unpacks and snapshots the filesystem itself. */
export function renderKanikoPod(request: BuildRequest, settings: KanikoSettings, suffix: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `build-${request.label}-${suffix}`,
      namespace: settings.namespace,
      labels: { 'app.kubernetes.io/name': 'kaniko', 'app.kubernetes.io/managed-by': 'tracelab', 'tracelab.dev/build': request.label },
    },
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
          args: kanikoArgs(request),
          stdin: true,
          stdinOnce: true,
          terminationMessagePolicy: 'File',
          resources: {
            requests: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '1Gi' },
            limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '4Gi' },
          },
        },
      ],
    },
  };
}

/** Kaniko's log has no step numbering: a line per Dockerfile instruction it runs. */
function kanikoStep(line: string): string | undefined {
  return /(?:INFO|info)\[\d+\] ((?:RUN|COPY|FROM|WORKDIR|ENV|USER|CMD|ARG|EXPOSE) .*)$/.exec(line)?.[1];
}

export function kanikoBuilder(kube: KubeClient, settings: KanikoSettings): Builder {
  return {
    name: 'kaniko',
    async build(request: BuildRequest, output: Output, signal: AbortSignal): Promise<BuildResult> {
      let step: string | undefined;
      const lines: string[] = [];
      const result = await runBuildPod(
        kube,
        renderKanikoPod(request, settings, randomBytes(3).toString('hex')),
        request.context(),
        (line) => {
          lines.push(line);
          const started = kanikoStep(line);
          if (started !== undefined) {
            step = started;
            output.info(`  ${request.label}: ${started.length > 110 ? `${started.slice(0, 109)}…` : started}`);
          } else output.detail(`  ${request.label} │ ${line}`);
        },
        signal,
      );
      const digest = /sha256:[0-9a-f]{64}/.exec(result.message ?? '')?.[0];
      if (result.exitCode !== 0 || digest === undefined) {
        throw new BuildFailedError(request.label, step, lines.filter((line) => line.trim() !== '').slice(-20), result.reason ?? `exit code ${String(result.exitCode)}`);
      }
      return { digest };
    },
  };
}
