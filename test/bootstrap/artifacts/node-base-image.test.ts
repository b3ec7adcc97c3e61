import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { $, which } from 'zx';
import { nodeBaseImage, nodeBaseImageArchive, type NodeBaseImage } from '../../../bootstrap/artifacts/node-base-image.ts';

// Slow (mmdebstrap, ~30 s cold; the root filesystem is cached after) and needs root for chroot.
const missing = (await which('mmdebstrap', { nothrow: true })) === null ? 'mmdebstrap is not installed (apt-get install mmdebstrap)' : undefined;
const skip = missing !== undefined && process.env.CI !== 'true' ? missing : false;
const cacheDir = process.env.TRACELAB_CACHE ?? join(homedir(), '.cache', 'tracelab');

/** What a container of the image starts with (the image's PATH, which also has chroot on the host). */
const imageEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };

const sha = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Descriptor {
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
}

describe('nodeBaseImageArchive()', { skip }, () => {
  let dir: string | undefined;
  let image: NodeBaseImage;
  let layout: string;
  let rootfs: string;
  const blobPath = (digest: string): string => join(layout, 'blobs/sha256', digest.slice('sha256:'.length));
  before(async () => {
    if (missing !== undefined) throw new Error(`${missing}: under CI=true this test may not skip`);
    const scratch = await mkdtemp(join(tmpdir(), 'tracelab-node-base-'));
    dir = scratch;
    const started = Date.now();
    image = await nodeBaseImageArchive({ cacheDir });
    console.log(`# built ${image.name} (node ${image.nodeVersion}, npm ${image.npmVersion}) in ${Date.now() - started} ms: ${image.archive.length} bytes`);
    layout = join(scratch, 'layout');
    rootfs = join(scratch, 'rootfs');
    await mkdir(layout);
    await mkdir(rootfs);
    await writeFile(join(scratch, 'image.tar'), image.archive);
    await $({ quiet: true })`tar -xf ${join(scratch, 'image.tar')} -C ${layout}`;
    // The layers, in order, make the root filesystem a runtime would run.
    const manifest = JSON.parse(await readFile(blobPath(image.manifestDigest), 'utf8')) as { layers: Descriptor[] };
    for (const layer of manifest.layers) await $({ quiet: true })`tar -xf ${blobPath(layer.digest)} -C ${rootfs} --numeric-owner`;
  });
  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('is an OCI layout: the index names the image, every blob matches its digest, layers match the diff_ids', async () => {
    assert.deepEqual(JSON.parse(await readFile(join(layout, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]?.digest, image.manifestDigest);
    assert.equal(index.manifests[0].annotations?.['io.containerd.image.name'], nodeBaseImage);
    for (const name of await readdir(join(layout, 'blobs/sha256'))) {
      assert.equal(sha(await readFile(join(layout, 'blobs/sha256', name))), `sha256:${name}`);
    }
    const blob = async (digest: string): Promise<Buffer> => readFile(blobPath(digest));
    const manifest = JSON.parse((await blob(image.manifestDigest)).toString()) as { config: Descriptor; layers: Descriptor[] };
    const config = JSON.parse((await blob(manifest.config.digest)).toString()) as { config: { Cmd: string[]; Env: string[] }; rootfs: { diff_ids: string[] }; history: unknown[] };
    assert.equal(manifest.layers.length, 2, 'the Debian root filesystem, then node and npm');
    assert.deepEqual(config.rootfs.diff_ids, manifest.layers.map((layer) => layer.digest));
    assert.equal(config.history.length, 2);
    assert.deepEqual(config.config.Cmd, ['node']);
    assert.ok(config.config.Env.includes(`NODE_VERSION=${image.nodeVersion}`));
    for (const layer of manifest.layers) assert.equal((await blob(layer.digest)).length, layer.size);
  });

  it('runs Node 24 and npm inside its root filesystem, with the CA bundle and no device files', async () => {
    const node = await $({ quiet: true, nothrow: true, env: imageEnv })`chroot ${rootfs} node --version`;
    assert.equal(node.exitCode, 0, node.stderr);
    assert.match(node.stdout.trim(), /^v24\.\d+\.\d+$/);
    assert.equal(node.stdout.trim(), `v${image.nodeVersion}`);
    const npm = await $({ quiet: true, nothrow: true, env: imageEnv })`chroot ${rootfs} npm --version`;
    assert.equal(npm.exitCode, 0, npm.stderr);
    assert.equal(npm.stdout.trim(), image.npmVersion);
    await access(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'));
    assert.deepEqual(await readdir(join(rootfs, 'dev')), []);
  });

  it('is reproducible: built again (root filesystem from the cache), the same manifest', async () => {
    const started = Date.now();
    const again = await nodeBaseImageArchive({ cacheDir, nodeVersion: image.nodeVersion, npmVersion: image.npmVersion });
    console.log(`# rebuilt from the cache in ${Date.now() - started} ms`);
    assert.equal(again.rootfs, image.rootfs);
    assert.equal(again.manifestDigest, image.manifestDigest);
  });
});
