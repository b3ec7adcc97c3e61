import { createHash } from 'node:crypto';
import { pack, type Pack } from 'tar-stream';

/** A file of an image's single layer; parent directories are added. */
export interface ImageFile {
  /** Inside the image, without the leading slash: `usr/local/bin/kube-apiserver`. */
  readonly path: string;
  readonly content: Buffer | string;
  readonly mode: number;
  /** Extended attributes kept in the layer (PAX `SCHILY.xattr.` records), e.g. `security.capability`. */
  readonly xattrs?: Readonly<Record<string, Buffer>>;
}

export interface ImageSpec {
  /** The full reference containerd and kubeadm know it by: `registry.k8s.io/pause:3.10.1`. */
  readonly name: string;
  /** Layers made elsewhere (uncompressed tars, e.g. a root filesystem), below the layer of `files`. */
  readonly baseLayers?: readonly Buffer[];
  readonly files: readonly ImageFile[];
  readonly config: { readonly Entrypoint?: string[]; readonly Cmd?: string[]; readonly Env?: string[]; readonly User?: string; readonly WorkingDir?: string };
}

const epoch = new Date(0);
const media = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A tar being written, read as it goes (a large entry waits for its reader), whole at `done()`. */
function newArchive(): { archive: Pack; done: () => Promise<Buffer> } {
  const archive = pack();
  const chunks: Buffer[] = [];
  const ended = new Promise<Buffer>((resolve, reject) => {
    archive.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    archive.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    archive.on('error', reject);
  });
  return {
    archive,
    done: () => {
      archive.finalize();
      return ended;
    },
  };
}

function add(archive: Pack, name: string, content: Buffer, mode: number, pax?: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    archive.entry({ name, mode, mtime: epoch, uid: 0, gid: 0, uname: 'root', gname: 'root', ...(pax === undefined ? {} : { pax }) }, content, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * A file's extended attributes as PAX `SCHILY.xattr.` records. tar-stream writes record values as
 * UTF-8 text, which would mangle a binary `security.capability`: each value goes in as an ASCII
 * placeholder of the same length, swapped for the real bytes once the tar is whole.
 */
function xattrRecords(file: ImageFile): { pax: Record<string, string>; patches: { from: Buffer; to: Buffer }[] } {
  const pax: Record<string, string> = {};
  const patches: { from: Buffer; to: Buffer }[] = [];
  for (const [key, value] of Object.entries(file.xattrs ?? {})) {
    const placeholder = createHash('sha256').update(`${file.path}\0${key}`).digest('hex').repeat(Math.ceil(value.length / 64) + 1).slice(0, value.length);
    pax[`SCHILY.xattr.${key}`] = placeholder;
    patches.push({ from: Buffer.from(`SCHILY.xattr.${key}=${placeholder}\n`), to: Buffer.concat([Buffer.from(`SCHILY.xattr.${key}=`), value, Buffer.from('\n')]) });
  }
  return { pax, patches };
}

/** Reproducible: the same files give the same bytes (sorted, owned by root, timestamps at 0). */
export async function layerTar(files: readonly ImageFile[]): Promise<Buffer> {
  const { archive, done } = newArchive();
  const patches: { from: Buffer; to: Buffer }[] = [];
  const dirs = new Set<string>();
  for (const file of files) {
    const parts = file.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries = [...[...dirs].map((dir) => ({ dir: true, path: dir })), ...files.map((file) => ({ dir: false, path: file.path }))].sort((a, b) => a.path.localeCompare(b.path));
  for (const entry of entries) {
    if (entry.dir) {
      archive.entry({ name: `${entry.path}/`, type: 'directory', mode: 0o755, mtime: epoch, uid: 0, gid: 0 });
    } else {
      const file = files.find((f) => f.path === entry.path) as ImageFile;
      if (file.xattrs === undefined) {
        await add(archive, file.path, Buffer.from(file.content), file.mode);
      } else {
        const records = xattrRecords(file);
        patches.push(...records.patches);
        await add(archive, file.path, Buffer.from(file.content), file.mode, records.pax);
      }
    }
  }
  const tar = await done();
  for (const { from, to } of patches) {
    const at = tar.indexOf(from);
    if (at === -1 || tar.indexOf(from, at + 1) !== -1) throw new Error(`layerTar: the PAX record ${from.toString().slice(0, 40)}… is not in the layer exactly once`);
    to.copy(tar, at);
  }
  return tar;
}

/**
 * An OCI image archive (`oci-layout`, `index.json`, `blobs/sha256/…`) that
 * `ctr -n k8s.io images import` takes as the image `spec.name`: how a lab gets its images with
 * no registry at all.
 */
export async function ociImageArchive(spec: ImageSpec): Promise<{ archive: Buffer; manifestDigest: string }> {
  const layers = [...(spec.baseLayers ?? []), await layerTar(spec.files)];
  const layerDigests = layers.map(sha256);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: epoch.toISOString(),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...spec.config },
      rootfs: { type: 'layers', diff_ids: layerDigests },
      history: layers.map(() => ({ created: epoch.toISOString(), created_by: 'tracelab artifacts build' })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: media.manifest,
      config: { mediaType: media.config, digest: sha256(config), size: config.length },
      layers: layers.map((layer, i) => ({ mediaType: media.layer, digest: layerDigests[i], size: layer.length })),
    }),
  );
  const manifestDigest = sha256(manifest);
  const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: media.index,
      manifests: [
        {
          mediaType: media.manifest,
          digest: manifestDigest,
          size: manifest.length,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const { archive, done } = newArchive();
  await add(archive, 'oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })), 0o644);
  await add(archive, 'index.json', index, 0o644);
  for (const blob of [config, manifest, ...layers]) await add(archive, `blobs/sha256/${sha256(blob).slice('sha256:'.length)}`, blob, 0o644);
  return { archive: await done(), manifestDigest };
}
