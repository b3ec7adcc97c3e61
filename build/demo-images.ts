import { createHash } from 'node:crypto';
import type { KubeClient } from '../core/kube/client.ts';
import type { Output } from '../core/output.ts';
import { UserError, exitCodes } from '../core/errors.ts';
import { demoServices, type DemoService } from '../demo/options.ts';
import { inClusterRegistryHost, labRegistryHost, labRepository } from '../registry/address.ts';
import { BuildFailedError, type Builder } from './builder.ts';
import type { DemoSources } from './demo-sources.ts';
import { labManifestDigest } from './lab-registry.ts';

export interface DemoImagesPlan {
  readonly builder: Builder;
  readonly sources: Pick<DemoSources, 'keys' | 'context'>;
  /** The Dockerfile's NODE_IMAGE (a base image in the lab registry for air-gapped builds); undefined: the Dockerfile's default. */
  readonly nodeImage: string | undefined;
}

/** The tag an image of these sources gets: the same sources find the image already built. */
export function sourcesTag(key: string): string {
  return `src-${key.slice(0, 20)}`;
}

/** The image references the demo's Deployments use: by digest, as the nodes pull them. */
export type DemoImages = Record<DemoService, string>;

/**
 * Builds the demo's images in the cluster into the lab registry, both at once, skipping a service
 * whose sources the registry already has an image of. Returns the references to deploy (by digest).
 * A dry run builds nothing: it names what would be built and returns tag references.
 */
export async function buildDemoImages(kube: KubeClient, plan: DemoImagesPlan, options: { dryRun: boolean; output: Output; signal: AbortSignal }): Promise<DemoImages> {
  const { output } = options;
  // One build failing stops the other: its result would not be deployed.
  const siblings = new AbortController();
  const signal = AbortSignal.any([options.signal, siblings.signal]);
  const built = await Promise.all(
    demoServices.map(async (service) => {
      const repository = labRepository(service);
      // The base image is part of what the image is made of.
      const tag = sourcesTag(createHash('sha256').update(`${plan.sources.keys[service]}\n${plan.nodeImage ?? 'default'}\n`).digest('hex'));
      const existing = await labManifestDigest(kube, repository, tag);
      if (existing !== undefined) {
        output.info(`  ${service}: sources unchanged — ${repository}:${tag} is in the lab registry`);
        return [service, `${labRegistryHost}/${repository}@${existing}`] as const;
      }
      if (options.dryRun) {
        output.info(`  ${service}: would build ${repository}:${tag} with ${plan.builder.name} (dry run: nothing built)`);
        return [service, `${labRegistryHost}/${repository}:${tag}`] as const;
      }
      try {
        return [service, await buildOne(plan, service, repository, tag, { output, signal })] as const;
      } catch (err) {
        siblings.abort();
        throw err;
      }
    }),
  );
  return Object.fromEntries(built) as DemoImages;
}

async function buildOne(plan: DemoImagesPlan, service: DemoService, repository: string, tag: string, options: { output: Output; signal: AbortSignal }): Promise<string> {
  const started = Date.now();
  options.output.info(`  ${service}: building ${repository}:${tag} with ${plan.builder.name}`);
  try {
    const { digest } = await plan.builder.build(
      {
        label: service,
        image: `${inClusterRegistryHost}/${repository}:${tag}`,
        buildArgs: { SERVICE: service, ...(plan.nodeImage === undefined ? {} : { NODE_IMAGE: plan.nodeImage }) },
        context: await plan.sources.context(),
        cacheImage: `${inClusterRegistryHost}/${labRepository('cache')}:${service}`,
        insecureRegistries: [inClusterRegistryHost],
      },
      options.output,
      options.signal,
    );
    options.output.info(`  ${service}: built ${digest.slice(0, 19)}… in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return `${labRegistryHost}/${repository}@${digest}`;
  } catch (err) {
    if (err instanceof BuildFailedError) {
      for (const line of err.logTail) options.output.info(`  ${service} │ ${line}`);
      const fix = err.step === undefined ? 'fix the cause' : 'fix the step';
      throw new UserError(`${err.message} — the running demo was left as it was; ${fix} and run deploy:demo again`, { exitCode: exitCodes.buildFailed, cause: err });
    }
    throw err;
  }
}
