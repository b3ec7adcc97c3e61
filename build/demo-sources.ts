import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { demoServices, type DemoService } from '../demo/options.ts';
import { buildContext, contextFiles, type BuildContext } from './context.ts';

export interface DemoSources {
  /** Per service, the key of what goes into its image: it changes exactly when the image would. */
  readonly keys: Readonly<Record<DemoService, string>>;
  /** The build context both images are built from, made (offline npm cache and all) only when a build needs it. */
  context(): Promise<() => Readable>;
  /** Removes what the context generated. */
  close(): Promise<void>;
}

/**
 * The demo's sources in `root`: keys from the files the build context holds (every one but the
 * other service's sources, so a change to the backend rebuilds and rolls out the backend alone),
 * read without writing anything; the context itself on demand.
 */
export async function demoSources(root: string, options: { offline: boolean }): Promise<DemoSources> {
  const files = await contextFiles(root);
  if (!files.includes('Dockerfile')) files.push('Dockerfile');
  const contents = new Map(await Promise.all(files.sort().map(async (name) => [name, createHash('sha256').update(await readFile(join(root, name))).digest('hex')] as const)));
  const keyOf = (service: DemoService): string => {
    const hash = createHash('sha256').update(`offline=${String(options.offline)}\n`);
    for (const [name, digest] of contents) {
      if (demoServices.some((other) => other !== service && name.startsWith(`services/${other}/src/`))) continue;
      hash.update(`${name} ${digest}\n`);
    }
    return hash.digest('hex');
  };
  let made: Promise<BuildContext> | undefined;
  return {
    keys: Object.fromEntries(demoServices.map((service) => [service, keyOf(service)])) as Record<DemoService, string>,
    context: async () => {
      made ??= buildContext({ root, offlineNpmCache: options.offline });
      const context = await made;
      return () => context.stream();
    },
    close: async () => {
      if (made !== undefined) await (await made.catch(() => undefined))?.close();
    },
  };
}
