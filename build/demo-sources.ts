import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { demoServices, type DemoService } from '../demo/options.ts';
import { buildContext, offlineCacheDir } from './context.ts';
import type { ServiceSources } from './demo-images.ts';

export interface DemoSources {
  readonly services: Readonly<Record<DemoService, ServiceSources>>;
  /** Removes what the context generated (the offline npm cache). */
  close(): Promise<void>;
}

/**
 * The one build context both images are built from, and per service the key of what goes into its
 * image: every context file but the other service's sources, so a change to the backend rebuilds
 * (and rolls out) the backend alone.
 */
export async function demoSources(root: string, options: { offline: boolean }): Promise<DemoSources> {
  const context = await buildContext({ root, offlineNpmCache: options.offline });
  try {
    const files = context.entries.filter((name) => !name.endsWith('/') && !name.startsWith(`${offlineCacheDir}/`));
    const contents = new Map(await Promise.all(files.map(async (name) => [name, createHash('sha256').update(await readFile(join(root, name))).digest('hex')] as const)));
    const keyOf = (service: DemoService): string => {
      const hash = createHash('sha256').update(`offline=${String(options.offline)}\n`);
      for (const [name, digest] of contents) {
        if (demoServices.some((other) => other !== service && name.startsWith(`services/${other}/src/`))) continue;
        hash.update(`${name} ${digest}\n`);
      }
      return hash.digest('hex');
    };
    const services = Object.fromEntries(demoServices.map((service) => [service, { key: keyOf(service), context: () => context.stream() }])) as Record<DemoService, ServiceSources>;
    return { services, close: () => context.close() };
  } catch (err) {
    await context.close();
    throw err;
  }
}
