import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import type { Layer } from '../core/layer.ts';
import { addApplyFlags, upLayer, type ApplyFlags } from '../core/kube/commands.ts';
import { demoLayer } from './layer.ts';
import { demoDefaults } from './options.ts';

/** This repository: its Dockerfile and services are what deploy:demo builds. */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface DeployDemoFlags extends ApplyFlags {
  images?: string;
  builder: string;
  artifacts?: string;
  nodeImage?: string;
  sources?: string;
  replicas?: string;
  namespace?: string;
  backendLatencyMs?: string;
  backendCpuMs?: string;
  backendErrorRate?: string;
}

/** `tracelab deploy demo` (npm run deploy:demo): `up demo` with the demo's flags spelled out in --help. */
export function registerDemoCommands(program: Command, globals: (command: Command) => GlobalOptions, layers: readonly Layer<unknown>[]): void {
  const deploy = program.command('deploy').description('deploy a workload of the lab');
  const demo = deploy
    .command('demo')
    .description('build the frontend and backend images in the cluster, deploy them by digest and wait until both are available')
    .option('--images <list>', 'prebuilt images (frontend=REF,backend=REF) instead of building them in the cluster')
    .option('--builder <name>', 'the in-cluster builder: buildkit or kaniko', 'buildkit')
    .option('--artifacts <dir>', 'air-gapped: the Node base image from this artifacts directory (tracelab artifacts build) and no network in the build')
    .option('--node-image <ref>', "the Dockerfile's base image (NODE_IMAGE) as the builder pulls it")
    .option('--sources <dir>', "a directory with the Dockerfile and services/ to build instead of tracelab's own (your changes to the demo)")
    .option('--replicas <n>', `replicas per service, also the autoscaler's floor (default ${demoDefaults.replicas})`)
    .option('--namespace <name>', `namespace of the demo (default ${demoDefaults.namespace})`)
    .option('--backend-latency-ms <ms>', 'added latency of every backend call')
    .option('--backend-cpu-ms <ms>', 'CPU burnt by every backend call')
    .option('--backend-error-rate <0..1>', 'share of backend calls that fail');
  addApplyFlags(demo).action(async (flags: DeployDemoFlags, command: Command) => {
      const raw: Record<string, string | undefined> = {
        images: flags.images,
        replicas: flags.replicas,
        namespace: flags.namespace,
        'backend-latency-ms': flags.backendLatencyMs,
        'backend-cpu-ms': flags.backendCpuMs,
        'backend-error-rate': flags.backendErrorRate,
      };
      const given = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
      if (flags.images !== undefined) {
        await upLayer(globals(command), demoLayer, given, flags, layers);
        return;
      }
      const { buildAndDeployDemo } = await import('../build/deploy-demo.ts');
      await buildAndDeployDemo(globals(command), given, flags, layers, { builder: flags.builder, repoRoot: flags.sources ?? repoRoot, artifacts: flags.artifacts, nodeImage: flags.nodeImage });
  });
}
