import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { UserError } from '../core/errors.ts';
import type { Layer } from '../core/layer.ts';
import { addApplyFlags, upLayer, type ApplyFlags } from '../core/kube/commands.ts';
import { demoLayer } from './layer.ts';
import { demoDefaults } from './options.ts';

/** This repository: its Dockerfile and services are what deploy:demo builds. */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface DeployDemoFlags extends ApplyFlags {
  images?: string;
  builder: string;
  buildkitMode?: string;
  artifacts?: string;
  nodeImage?: string;
  sources?: string;
  registry?: string;
  registryInsecure?: boolean;
  pullSecret?: string;
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
    .option('--buildkit-mode <mode>', 'how BuildKit runs: rootless, privileged, or auto (default: rootless where the cluster admits it, else privileged)')
    .option('--artifacts <dir>', 'air-gapped: the Node base image from this artifacts directory (tracelab artifacts build) and no network in the build')
    .option('--node-image <ref>', "the Dockerfile's base image (NODE_IMAGE) as the builder pulls it")
    .option('--sources <dir>', "a directory with the Dockerfile and services/ to build instead of tracelab's own (your changes to the demo)")
    .option('--registry <ref>', 'push the built images to this registry (host[:port]/path) instead of the lab registry, and deploy them from there')
    .option('--registry-insecure', '--registry speaks plain HTTP (its nodes need a containerd hosts.toml for it too)')
    .option('--pull-secret <name>', "a kubernetes.io/dockerconfigjson Secret in the demo's namespace: the nodes pull with it, the builds push with it")
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
        'pull-secret': flags.pullSecret,
      };
      const given = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
      if (flags.images !== undefined) {
        if (flags.registry !== undefined || flags.registryInsecure === true) {
          throw new UserError('--registry is where deploy:demo pushes the images it builds: with prebuilt --images, leave it out');
        }
        await upLayer(globals(command), demoLayer, given, flags, layers);
        return;
      }
      const { buildAndDeployDemo } = await import('../build/deploy-demo.ts');
      await buildAndDeployDemo(globals(command), given, flags, layers, { builder: flags.builder, buildkitMode: flags.buildkitMode, repoRoot: flags.sources ?? repoRoot, artifacts: flags.artifacts, nodeImage: flags.nodeImage, registry: flags.registry, registryInsecure: flags.registryInsecure });
  });
}
