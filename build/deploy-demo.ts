import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { GlobalOptions } from '../core/context.ts';
import { UserError } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { upLayer, withKube, type ApplyFlags } from '../core/kube/commands.ts';
import { parseDuration } from '../core/kube/duration.ts';
import type { Layer } from '../core/layer.ts';
import { demoLayer } from '../demo/layer.ts';
import { demoServices, type DemoOptions } from '../demo/options.ts';
import { readPullSecret } from '../demo/pull-secret.ts';
import { buildNamespace, labRepository, registryNamespace } from '../registry/address.ts';
import { registryLayer } from '../registry/layer.ts';
import { requireNodesPullingFromLabRegistry } from '../registry/node-pull.ts';
import type { Builder } from './builder.ts';
import { buildkitBuilder, buildkitImage, buildkitModes, buildkitRootlessImage, defaultBuildkitMode, type BuildkitMode } from './builders/buildkit.ts';
import { kanikoBuilder, kanikoImage } from './builders/kaniko.ts';
import { buildsLayer } from './layer.ts';
import { buildDemoImages } from './demo-images.ts';
import { demoSources } from './demo-sources.ts';
import { credentialsFor, hostsIn } from './docker-config.ts';
import { externalImageRegistry, labImageRegistry, type ImageRegistry } from './image-registry.ts';
import { parseRegistryRef, repositoryUnder, type RegistryRef } from './registry-ref.ts';
import { nodeBaseArchive, readManifest } from '../bootstrap/artifacts/build.ts';

export const builderNames = ['buildkit', 'kaniko'] as const;
export type BuilderName = (typeof builderNames)[number];

export interface DemoBuildSettings {
  readonly builder: string;
  /** The repository whose Dockerfile and services are built. */
  readonly repoRoot: string;
  /** An artifacts directory: its Node base image goes to the lab registry and the build needs no network. */
  readonly artifacts: string | undefined;
  /** The Dockerfile's NODE_IMAGE, as the builder pulls it. */
  readonly nodeImage: string | undefined;
  /** `--registry REF`: the images go there, not to the lab registry (a cluster tracelab did not bootstrap). */
  readonly registry?: string | undefined;
  /** `--registry-insecure`: that registry speaks plain HTTP. */
  readonly registryInsecure?: boolean | undefined;
  /** `--buildkit-mode`: rootless, privileged or auto (default: rootless where the cluster admits it). */
  readonly buildkitMode?: string | undefined;
}

function parseBuilder(name: string): BuilderName {
  if (!(builderNames as readonly string[]).includes(name)) throw new UserError(`--builder '${name}' is not a builder tracelab knows: pass --builder buildkit or --builder kaniko`);
  return name as BuilderName;
}

function parseBuildkitMode(mode: string | undefined, builder: BuilderName): BuildkitMode {
  if (mode === undefined) return defaultBuildkitMode;
  if (builder !== 'buildkit') throw new UserError(`--buildkit-mode goes with --builder buildkit, not ${builder}: drop it`);
  if (!(buildkitModes as readonly string[]).includes(mode)) throw new UserError(`--buildkit-mode '${mode}' is not a mode: pass rootless, privileged or auto`);
  return mode as BuildkitMode;
}

/** How long a build pod may run. */
export const buildDeadlineSeconds = 1800;

function builderFor(name: BuilderName, kube: KubeClient, mode: BuildkitMode): Builder {
  const deadlineSeconds = buildDeadlineSeconds;
  return name === 'buildkit'
    ? buildkitBuilder(kube, { namespace: buildNamespace, image: buildkitImage, rootlessImage: buildkitRootlessImage, mode, deadlineSeconds })
    : kanikoBuilder(kube, { namespace: buildNamespace, image: kanikoImage, deadlineSeconds });
}

/**
 * `npm run deploy:demo` without --images: the lab registry (or --registry's), both images built
 * in the cluster from this repository (an unchanged service is not rebuilt), then the demo
 * deployed by digest. Every flag and the sources are checked before the cluster is touched.
 */
export async function buildAndDeployDemo(globals: GlobalOptions, given: Readonly<Record<string, string | undefined>>, flags: ApplyFlags, layers: readonly Layer<unknown>[], settings: DemoBuildSettings): Promise<void> {
  const { output, dryRun } = globals;
  const builder = parseBuilder(settings.builder);
  const buildkitMode = parseBuildkitMode(settings.buildkitMode, builder);
  const ref = settings.registry === undefined ? undefined : parseRegistryRef(settings.registry);
  if (settings.registryInsecure === true && ref === undefined) throw new UserError('--registry-insecure goes with --registry REF: it says that registry speaks plain HTTP');
  // The demo's own flags, checked now with placeholder images: a bad one must not leave a registry behind.
  const placeholder = (service: string): string => (ref === undefined ? labRepository(service) : `${ref.host}/${repositoryUnder(ref, service)}`);
  const demo = demoLayer.parseOptions({ ...given, images: demoServices.map((service) => `${service}=${placeholder(service)}:check`).join(',') });
  if (demo.pullSecret !== undefined && ref === undefined) {
    throw new UserError('--pull-secret goes with --registry REF (the lab registry takes no credentials) or with --images: pass the registry the images go to');
  }
  await access(join(settings.repoRoot, 'Dockerfile')).catch(() => {
    throw new UserError(`${settings.repoRoot} has no Dockerfile: --sources takes a directory with the Dockerfile and services/ of the demo`);
  });
  if (settings.artifacts !== undefined && settings.nodeImage !== undefined) throw new UserError('--artifacts and --node-image both choose the base image: pass one of them');
  if (settings.artifacts !== undefined) {
    await access(join(settings.artifacts, nodeBaseArchive)).catch(() => {
      throw new UserError(`${settings.artifacts ?? ''} has no ${nodeBaseArchive}: make it with \`tracelab artifacts build --out ${settings.artifacts ?? ''}\``);
    });
  }
  const timeoutMs = parseDuration(flags.timeout, '--timeout');
  const sources = await output.step('Read the sources of both images', () => demoSources(settings.repoRoot, { offline: settings.artifacts !== undefined }));

  let images: Record<string, string>;
  let external: ImageRegistry | undefined;
  try {
    if (ref === undefined) {
      // Images in the lab registry are pulled only by nodes whose containerd bootstrap told where it is.
      const unable = await withKube(globals, requireNodesPullingFromLabRegistry, timeoutMs);
      if (unable.length > 0) output.warn(`node${unable.length === 1 ? '' : 's'} ${unable.join(', ')} cannot pull from the lab registry (not set up by tracelab bootstrap): demo pods scheduled there will not start — run tracelab bootstrap on ${unable.length === 1 ? 'it' : 'them'}, or pass --registry REF`);
      // A registry already there keeps the settings it was given (`tracelab up registry --storage-size …`).
      const registry = await withKube(globals, (kube) => kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'registry', namespace: registryNamespace }), timeoutMs);
      if (registry === undefined) await upLayer(globals, registryLayer, {}, { ...flags, wait: true }, layers);
      else output.info('registry: in place, kept as it is (`tracelab up registry` changes its settings)');
    } else {
      output.info(`registry: ${ref.host} (--registry${settings.registryInsecure === true ? ', plain HTTP' : ''}); the lab registry is not used`);
      // Before anything is applied: the pull secret (a missing or wrong-type one is one line).
      external = await withKube(globals, (kube) => externalRegistry(kube, ref, settings.registryInsecure === true, demo), timeoutMs);
    }
    // No --timeout here: a build pod has its own deadline, and must be deleted whenever the build ends.
    images = await withKube(
      globals,
      async (kube) => {
        const registry = external ?? labImageRegistry(kube);
        let nodeImage = settings.nodeImage;
        if (settings.artifacts !== undefined) nodeImage = await pushNodeBase(registry, settings.artifacts, globals);
        return output.step(dryRun ? 'Images (dry run: nothing is built)' : `Build the images in the cluster (${builder})`, () =>
          buildDemoImages(
            kube,
            { builder: withBuildNamespace(builderFor(builder, kube, buildkitMode), kube, globals, flags), registry, sources, nodeImage },
            { dryRun, output, signal: globals.signal ?? new AbortController().signal },
          ),
        );
      },
    );
  } finally {
    await sources.close();
  }
  await upLayer(globals, demoLayer, { ...given, images: demoServices.map((service) => `${service}=${images[service]}`).join(',') }, flags, layers);
}

/**
 * The build pods' namespace (bootstrap installs it) is made where it is missing when a build is due:
 * an unchanged run, a dry run or a registry that refuses us leaves the cluster as it was.
 */
function withBuildNamespace(builder: Builder, kube: KubeClient, globals: GlobalOptions, flags: ApplyFlags): Builder {
  return {
    name: builder.name,
    async build(request, output, signal) {
      const namespace = await kube.get({ apiVersion: 'v1', kind: 'Namespace', name: buildNamespace });
      if (namespace === undefined) await upLayer(globals, buildsLayer, {}, flags, []);
      return builder.build(request, output, signal);
    },
  };
}

/**
 * `--registry REF`'s registry, with the pull secret's credentials for its host (read before
 * anything is built or applied: a missing or wrong-type Secret is one line).
 */
async function externalRegistry(kube: KubeClient, ref: RegistryRef, insecure: boolean, demo: DemoOptions): Promise<ImageRegistry> {
  if (demo.pullSecret === undefined) return externalImageRegistry(ref, { insecure, credentials: undefined, credentialsSource: undefined });
  const source = `pull secret '${demo.pullSecret}'`;
  const dockerConfig = await readPullSecret(kube, demo.namespace, demo.pullSecret);
  const credentials = credentialsFor(dockerConfig, ref.host, source);
  if (credentials === undefined) {
    const has = hostsIn(dockerConfig);
    throw new UserError(`${source} has no credentials for ${ref.host} (it has ${has.length === 0 ? 'none' : has.join(', ')}) — make it again for that host: kubectl -n ${demo.namespace} create secret docker-registry ${demo.pullSecret} --docker-server=${ref.host} --docker-username=USER --docker-password=PASSWORD`);
  }
  return externalImageRegistry(ref, { insecure, credentials, credentialsSource: source });
}

/** The artifacts' Node base image in the registry (pushed once, found again by its digest), as the builder pulls it. */
async function pushNodeBase(registry: ImageRegistry, artifacts: string, globals: GlobalOptions): Promise<string> {
  const repository = registry.repository('node-base');
  const base = (await readManifest(artifacts))?.baseImage;
  if (base === undefined) throw new UserError(`${artifacts} has no Node base image: make it again with \`tracelab artifacts build --out ${artifacts}\``);
  const reference = `${registry.pushName(repository)}@${base.manifestDigest}`;
  if ((await registry.manifestDigest(repository, base.manifestDigest)) !== undefined) return reference;
  if (globals.dryRun) {
    globals.output.info(`  would push the Node base image of ${artifacts} to ${registry.name} (${repository}@${base.manifestDigest.slice(0, 19)}…)`);
    return reference;
  }
  return globals.output.step(`Push the Node base image to ${registry.name}`, async () => {
    await registry.pushArchive(join(artifacts, base.file), repository, base.nodeVersion.replace(/^v/, ''));
    return reference;
  });
}
