import { createReadStream } from 'node:fs';
import { extract } from 'tar-stream';
import { UserError } from '../core/errors.ts';
import { RegistryClient } from './registry-client.ts';

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
}

/** The files of an OCI layout archive (`tracelab artifacts build` writes them), by path. */
async function readArchive(file: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const reading = extract();
  reading.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    stream.on('end', () => {
      if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
      next();
    });
    stream.resume();
  });
  await new Promise<void>((resolve, reject) => {
    reading.on('finish', resolve);
    reading.on('error', reject);
    createReadStream(file).on('error', reject).pipe(reading);
  });
  return files;
}

function blobOf(files: Map<string, Buffer>, digest: string, archive: string): Buffer {
  const blob = files.get(`blobs/${digest.replace(':', '/')}`);
  if (blob === undefined) throw new UserError(`${archive} is not a whole OCI image archive: blob ${digest} is missing — rebuild it with \`tracelab artifacts build\``);
  return blob;
}

/** The lab registry through a port-forward: plain HTTP, no credentials. */
function labRegistryAt(base: URL): RegistryClient {
  return new RegistryClient({ base, name: 'the lab registry', hint: 'look at its pod and log: kubectl -n tracelab-registry get pods; kubectl -n tracelab-registry logs deploy/registry' });
}

/**
 * Pushes the image of an OCI layout archive to a registry (the lab registry through a
 * port-forward when given a URL, any other through its client), blobs it lacks first, then the
 * manifest under the tag. Returns the manifest's digest.
 */
export async function pushImageArchive(archive: string, registry: URL | RegistryClient, repository: string, tag: string): Promise<string> {
  const client = registry instanceof URL ? labRegistryAt(registry) : registry;
  const files = await readArchive(archive);
  const index = JSON.parse(files.get('index.json')?.toString('utf8') ?? 'null') as { manifests?: Descriptor[] } | null;
  const top = index?.manifests?.[0];
  if (top === undefined) throw new UserError(`${archive} is not an OCI image archive (no index.json) — rebuild it with \`tracelab artifacts build\``);
  const manifestBytes = blobOf(files, top.digest, archive);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  const push = { repository, push: true } as const;
  for (const { digest } of [manifest.config, ...manifest.layers]) {
    const found = await client.send('HEAD', client.url(repository, `/blobs/${digest}`), { ...push, expect: [200, 404] });
    if (found.status === 200) continue;
    const started = await client.send('POST', client.url(repository, '/blobs/uploads/'), { ...push, expect: [202] });
    await started.body?.cancel();
    const location = new URL(started.headers.get('location') ?? '', client.endpoint.base);
    location.searchParams.set('digest', digest);
    await client.send('PUT', location, { ...push, body: blobOf(files, digest, archive), contentType: 'application/octet-stream', expect: [201] });
  }
  await client.send('PUT', client.url(repository, `/manifests/${tag}`), { ...push, body: manifestBytes, contentType: top.mediaType, expect: [201] });
  return top.digest;
}
