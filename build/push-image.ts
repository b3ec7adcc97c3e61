import { createReadStream } from 'node:fs';
import { extract } from 'tar-stream';
import { UserError, exitCodes } from '../core/errors.ts';

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

/** One request to the registry, bounded in time; a refusal or no answer is one line naming what to look at. */
async function send(method: string, url: URL, body: Buffer | undefined, contentType: string | undefined, expect: readonly number[]): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { method, signal: AbortSignal.timeout(120_000), ...(body === undefined ? {} : { body }), headers: contentType === undefined ? {} : { 'Content-Type': contentType } });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new UserError(`the lab registry did not answer ${method} ${url.pathname} (${cause}) — look at its pod: kubectl -n tracelab-registry get pods`, { exitCode: exitCodes.unreachable, cause: err });
  }
  if (!expect.includes(response.status)) {
    const said = (await response.text()).replace(/\s+/g, ' ').trim().slice(0, 200);
    throw new UserError(`the lab registry refused ${method} ${url.pathname} with ${String(response.status)}: ${said} — look at its log: kubectl -n tracelab-registry logs deploy/registry`, { exitCode: exitCodes.refused });
  }
  return response;
}

/**
 * Pushes the image of an OCI layout archive to a registry over plain HTTP (the lab registry through
 * a port-forward), blobs first, then the manifest under the tag. Returns the manifest's digest.
 */
export async function pushImageArchive(archive: string, registry: URL, repository: string, tag: string): Promise<string> {
  const files = await readArchive(archive);
  const index = JSON.parse(files.get('index.json')?.toString('utf8') ?? 'null') as { manifests?: Descriptor[] } | null;
  const top = index?.manifests?.[0];
  if (top === undefined) throw new UserError(`${archive} is not an OCI image archive (no index.json) — rebuild it with \`tracelab artifacts build\``);
  const manifestBytes = blobOf(files, top.digest, archive);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  const api = (path: string): URL => new URL(`/v2/${repository}${path}`, registry);
  for (const { digest } of [manifest.config, ...manifest.layers]) {
    if ((await send('HEAD', api(`/blobs/${digest}`), undefined, undefined, [200, 404])).status === 200) continue;
    const started = await send('POST', api('/blobs/uploads/'), undefined, undefined, [202]);
    const location = new URL(started.headers.get('location') ?? '', registry);
    location.searchParams.set('digest', digest);
    await send('PUT', location, blobOf(files, digest, archive), 'application/octet-stream', [201]);
  }
  await send('PUT', api(`/manifests/${tag}`), manifestBytes, top.mediaType, [201]);
  return top.digest;
}
