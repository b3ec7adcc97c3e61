/**
 * Container images assembled on this machine, without a registry: an OCI image layout (one layer
 * of the given files, a config, a manifest, an index) in a tar archive that
 * `ctr -n k8s.io images import` takes. Layers are reproducible (sorted, owner 0, mtime 0).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { componentPath, componentVersions } from '../components.ts';

/** The registry name the test images carry; nothing is ever pulled from it (kubeadm `imageRepository`). */
export const TEST_IMAGE_REPOSITORY = 'tracelab.local';
/** The pause tag kubeadm v1.37 expects (`kubeadm config images list`). */
export const PAUSE_TAG = '3.10.2';

export interface ImageFile {
  /** A file on the host. */
  readonly source: string;
  /** Its absolute path in the image. */
  readonly path: string;
  /** @default 0o755 */
  readonly mode?: number;
}

export interface ImageSpec {
  /** Full reference, e.g. tracelab.local/pause:3.10.2 */
  readonly name: string;
  readonly files: readonly ImageFile[];
  readonly entrypoint: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  /** @default "0" (root); e.g. "65532" */
  readonly user?: string;
}

export interface AssembledImage {
  readonly name: string;
  readonly archive: string;
  /** sha256:… of the manifest: what containerd reports as the image's digest. */
  readonly digest: string;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const REPRODUCIBLE_TAR = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu'];

/** The sandbox image: our static pause program (build.sh pause). */
export function pauseImage(repository = TEST_IMAGE_REPOSITORY): ImageSpec {
  return { name: `${repository}/pause:${PAUSE_TAG}`, files: [{ source: componentPath('pause'), path: '/pause' }], entrypoint: ['/pause'] };
}

/**
 * CoreDNS as kubeadm deploys it: entrypoint /coredns (build.sh coredns). It runs as root: upstream's
 * non-root image binds port 53 through a file capability, which this layer does not carry.
 */
export function corednsImage(repository = TEST_IMAGE_REPOSITORY): ImageSpec {
  const version = componentVersions().COREDNS_VERSION ?? 'unknown';
  return {
    name: `${repository}/coredns:${version}`,
    files: [{ source: componentPath('coredns'), path: '/coredns' }],
    entrypoint: ['/coredns'],
  };
}

/** Writes the image's OCI archive to `archive` (replacing it). */
export async function assembleImage(spec: ImageSpec, archive: string): Promise<AssembledImage> {
  const work = await mkdtemp(path.join(tmpdir(), 'tracelab-image-'));
  try {
    const rootfs = path.join(work, 'rootfs');
    for (const file of spec.files) {
      if (!path.isAbsolute(file.path)) throw new Error(`image ${spec.name}: '${file.path}' is not an absolute path`);
      const target = path.join(rootfs, file.path);
      await mkdir(path.dirname(target), { recursive: true });
      await copyFile(file.source, target);
      await chmod(target, file.mode ?? 0o755);
    }
    const layout = path.join(work, 'layout');
    const blobs = path.join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const layerFile = path.join(work, 'layer.tar');
    await $({ quiet: true })`tar --create --file ${layerFile} --directory ${rootfs} ${REPRODUCIBLE_TAR} .`;
    const layer = await describeFile(layerFile, OCI_LAYER);
    await rename(layerFile, path.join(blobs, hexOf(layer.digest)));
    const config = await writeBlob(blobs, OCI_CONFIG, {
      architecture: 'amd64',
      os: 'linux',
      config: {
        Entrypoint: spec.entrypoint,
        ...(spec.cmd === undefined ? {} : { Cmd: spec.cmd }),
        Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        User: spec.user ?? '0',
        WorkingDir: '/',
      },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created_by: 'testenv/nodes/images.ts' }],
    });
    const manifest = await writeBlob(blobs, OCI_MANIFEST, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] });
    const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...manifest, annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag } }],
    };
    await writeFile(path.join(layout, 'index.json'), JSON.stringify(index));
    await writeFile(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await mkdir(path.dirname(archive), { recursive: true });
    await $({ quiet: true })`tar --create --file ${archive} --directory ${layout} ${REPRODUCIBLE_TAR} oci-layout index.json blobs`;
    return { name: spec.name, archive, digest: manifest.digest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

async function writeBlob(blobs: string, mediaType: string, content: unknown): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(content));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(path.join(blobs, hexOf(digest)), bytes);
  return { mediaType, digest, size: bytes.length };
}

async function describeFile(file: string, mediaType: string): Promise<Descriptor> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { mediaType, digest: `sha256:${hash.digest('hex')}`, size: (await stat(file)).size };
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}
