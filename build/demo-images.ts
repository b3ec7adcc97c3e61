import { createHash } from 'node:crypto';
import type { KubeClient } from '../core/kube/client.ts';
import type { Output } from '../core/output.ts';
import { UserError, exitCodes } from '../core/errors.ts';
import { demoServices, type DemoService } from '../demo/options.ts';
import { BuildFailedError, type Builder } from './builder.ts';
import type { DemoSources } from './demo-sources.ts';
import { labImageRegistry, type ImageRegistry } from './image-registry.ts';

export interface DemoImagesPlan {
  readonly builder: Builder;
  /** Where the images go and the nodes pull them from: --registry's; default the lab registry. */
  readonly registry?: ImageRegistry | undefined;
  readonly sources: Pick<DemoSources, 'keys' | 'context'>;
  /** The Dockerfile's NODE_IMAGE (a base image in the registry for air-gapped builds); undefined: the Dockerfile's default. */
  readonly nodeImage: string | undefined;
}

/** The tag an image of these sources gets: the same sources find the image already built. */
export function sourcesTag(key: string): string {
  return `src-${key.slice(0, 20)}`;
}

/** The tag of a service's image built from these sources on this base image (the base is part of what the image is made of). */
export function imageTag(sourcesKey: string, nodeImage: string | undefined): string {
  return sourcesTag(createHash('sha256').update(`${sourcesKey}\n${nodeImage ?? 'default'}\n`).digest('hex'));
}

/** The image references the demo's Deployments use: by digest, as the nodes pull them. */
export type DemoImages = Record<DemoService, string>;

/**
 * Builds the demo's images in the cluster into the registry — the ones whose sources the
 * registry has no image of, all in one build — and returns the references to deploy, by digest.
 * A dry run builds nothing: it names what would be built and returns tag references.
 */
export async function buildDemoImages(kube: KubeClient, plan: DemoImagesPlan, options: { dryRun: boolean; output: Output; signal: AbortSignal }): Promise<DemoImages> {
  const { output } = options;
  const registry = plan.registry ?? labImageRegistry(kube);
  const images: Partial<DemoImages> = {};
  const toBuild: { service: DemoService; repository: string; tag: string }[] = [];
  await Promise.all(
    demoServices.map(async (service) => {
      const repository = registry.repository(service);
      const tag = imageTag(plan.sources.keys[service], plan.nodeImage);
      const existing = await registry.manifestDigest(repository, tag);
      if (existing !== undefined) {
        output.info(`  ${service}: sources unchanged — ${repository}:${tag} is in ${registry.name}`);
        images[service] = `${registry.pullName(repository)}@${existing}`;
      } else if (options.dryRun) {
        output.info(`  ${service}: would build ${repository}:${tag} with ${plan.builder.name} (dry run: nothing built)`);
        images[service] = `${registry.pullName(repository)}:${tag}`;
      } else {
        toBuild.push({ service, repository, tag });
      }
    }),
  );
  if (toBuild.length === 0) return images as DemoImages;

  const started = Date.now();
  for (const { service, repository, tag } of toBuild) output.info(`  ${service}: building ${repository}:${tag} with ${plan.builder.name}`);
  let digests: ReadonlyMap<string, string>;
  try {
    digests = await plan.builder.build(
      {
        images: toBuild.map(({ service, repository, tag }) => ({
          label: service,
          image: `${registry.pushName(repository)}:${tag}`,
          buildArgs: { SERVICE: service, ...(plan.nodeImage === undefined ? {} : { NODE_IMAGE: plan.nodeImage }) },
          cacheImage: `${registry.pushName(registry.repository('cache'))}:${service}`,
        })),
        context: await plan.sources.context(),
        insecureRegistries: registry.insecureHosts,
        ...(registry.pushCredentials === undefined ? {} : { pushCredentials: registry.pushCredentials }),
      },
      output,
      options.signal,
    );
  } catch (err) {
    if (!(err instanceof BuildFailedError)) throw err;
    for (const line of err.logTail) output.info(`  ${err.label} │ ${line}`);
    const fix = err.step === undefined ? 'fix the cause' : 'fix the step';
    throw new UserError(`${err.message} — the running demo was left as it was; ${fix} and run deploy:demo again`, { exitCode: exitCodes.buildFailed, cause: err });
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  for (const { service, repository } of toBuild) {
    const digest = digests.get(service);
    if (digest === undefined) throw new Error(`${plan.builder.name} returned no digest for ${service}`);
    output.info(`  ${service}: built ${digest.slice(0, 19)}… in ${seconds}s`);
    images[service] = `${registry.pullName(repository)}@${digest}`;
  }
  return images as DemoImages;
}
