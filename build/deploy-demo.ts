import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { GlobalOptions } from '../core/context.ts';
import { UserError } from '../core/errors.ts';
import type { KubeClient } from '../core/kube/client.ts';
import { upLayer, withKube, type ApplyFlags } from '../core/kube/commands.ts';
import { parseDuration } from '../core/kube/duration.ts';
import { forwardToService } from '../core/kube/port-forward.ts';
import type { Layer } from '../core/layer.ts';
import { demoLayer } from '../demo/layer.ts';
import { demoServices } from '../demo/options.ts';
import { buildNamespace, inClusterRegistryHost, labRepository, registryNamespace, registryPort } from '../registry/address.ts';
import { registryLayer } from '../registry/layer.ts';
import type { Builder } from './builder.ts';
import { buildkitBuilder, buildkitImage } from './builders/buildkit.ts';
import { kanikoBuilder, kanikoImage } from './builders/kaniko.ts';
import { buildDemoImages } from './demo-images.ts';
import { demoSources } from './demo-sources.ts';
import { labManifestDigest } from './lab-registry.ts';
import { pushImageArchive } from './push-image.ts';
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
}

function parseBuilder(name: string): BuilderName {
  if (!(builderNames as readonly string[]).includes(name)) throw new UserError(`--builder '${name}' is not a builder tracelab knows: pass --builder buildkit or --builder kaniko`);
  return name as BuilderName;
}

/** How long a build pod may run. */
export const buildDeadlineSeconds = 1800;

function builderFor(name: BuilderName, kube: KubeClient): Builder {
  const deadlineSeconds = buildDeadlineSeconds;
  return name === 'buildkit'
    ? buildkitBuilder(kube, { namespace: buildNamespace, image: buildkitImage, deadlineSeconds })
    : kanikoBuilder(kube, { namespace: buildNamespace, image: kanikoImage, deadlineSeconds });
}

/**
 * `npm run deploy:demo` without --images: the lab registry, both images built in the cluster from
 * this repository (an unchanged service is not rebuilt), then the demo deployed by digest. Every
 * flag and the sources are checked before the cluster is touched.
 */
export async function buildAndDeployDemo(globals: GlobalOptions, given: Readonly<Record<string, string | undefined>>, flags: ApplyFlags, layers: readonly Layer<unknown>[], settings: DemoBuildSettings): Promise<void> {
  const { output, dryRun } = globals;
  const builder = parseBuilder(settings.builder);
  // The demo's own flags, checked now with placeholder images: a bad one must not leave a registry behind.
  demoLayer.parseOptions({ ...given, images: demoServices.map((service) => `${service}=${labRepository(service)}:check`).join(',') });
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
  try {
    // A registry already there keeps the settings it was given (`tracelab up registry --storage-size …`).
    const registry = await withKube(globals, (kube) => kube.get({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'registry', namespace: registryNamespace }), timeoutMs);
    if (registry === undefined) await upLayer(globals, registryLayer, {}, { ...flags, wait: true }, layers);
    else output.info('registry: in place, kept as it is (`tracelab up registry` changes its settings)');
    // No --timeout here: a build pod has its own deadline, and must be deleted whenever the build ends.
    images = await withKube(
      globals,
      async (kube) => {
        let nodeImage = settings.nodeImage;
        if (settings.artifacts !== undefined) nodeImage = await pushNodeBase(kube, settings.artifacts, globals);
        return output.step(dryRun ? 'Images (dry run: nothing is built)' : `Build the images in the cluster (${builder})`, () =>
          buildDemoImages(kube, { builder: builderFor(builder, kube), sources, nodeImage }, { dryRun, output, signal: globals.signal ?? new AbortController().signal }),
        );
      },
    );
  } finally {
    await sources.close();
  }
  await upLayer(globals, demoLayer, { ...given, images: demoServices.map((service) => `${service}=${images[service]}`).join(',') }, flags, layers);
}

/** The artifacts' Node base image in the lab registry (pushed once, found again by its digest), as the builder pulls it. */
async function pushNodeBase(kube: KubeClient, artifacts: string, globals: GlobalOptions): Promise<string> {
  const repository = labRepository('node-base');
  const base = (await readManifest(artifacts))?.baseImage;
  if (base === undefined) throw new UserError(`${artifacts} has no Node base image: make it again with \`tracelab artifacts build --out ${artifacts}\``);
  const reference = `${inClusterRegistryHost}/${repository}@${base.manifestDigest}`;
  if ((await labManifestDigest(kube, repository, base.manifestDigest)) !== undefined) return reference;
  if (globals.dryRun) {
    globals.output.info(`  would push the Node base image of ${artifacts} to the lab registry (${repository}@${base.manifestDigest.slice(0, 19)}…)`);
    return reference;
  }
  return globals.output.step('Push the Node base image to the lab registry', async () => {
    const forward = await forwardToService(kube, registryNamespace, 'registry', registryPort);
    try {
      await pushImageArchive(join(artifacts, base.file), new URL(`http://127.0.0.1:${String(forward.port)}`), repository, base.nodeVersion.replace(/^v/, ''));
      return reference;
    } finally {
      await forward.close();
    }
  });
}
