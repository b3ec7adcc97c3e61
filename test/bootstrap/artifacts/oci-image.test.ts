import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { layerTar, ociImageArchive, type ImageSpec } from '../../../bootstrap/artifacts/oci-image.ts';

async function entries(archive: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on('end', () => {
        files.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  reader.end(archive);
  await done;
  return files;
}

const sha = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const spec: ImageSpec = {
  name: 'registry.k8s.io/pause:3.10.1',
  files: [
    { path: 'pause', content: '#!/bin/true\n', mode: 0o755 },
    { path: 'etc/tracelab/image', content: 'pause\n', mode: 0o644 },
  ],
  config: { Entrypoint: ['/pause'], User: '65535:65535' },
};

describe('ociImageArchive()', () => {
  it('is an OCI layout whose index names the image and whose blobs match their digests', async () => {
    const { archive, manifestDigest } = await ociImageArchive(spec);
    const files = await entries(archive);
    assert.deepEqual(JSON.parse(files.get('oci-layout')?.toString() ?? ''), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')?.toString() ?? '') as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.equal(index.manifests[0]?.digest, manifestDigest);
    assert.deepEqual(index.manifests[0].annotations, { 'io.containerd.image.name': 'registry.k8s.io/pause:3.10.1', 'org.opencontainers.image.ref.name': '3.10.1' });
    for (const [name, content] of files) {
      if (name.startsWith('blobs/sha256/')) assert.equal(sha(content), `sha256:${name.slice('blobs/sha256/'.length)}`);
    }
    const manifest = JSON.parse(files.get(`blobs/sha256/${manifestDigest.slice(7)}`)?.toString() ?? '') as { config: { digest: string }; layers: { digest: string }[] };
    const config = JSON.parse(files.get(`blobs/sha256/${manifest.config.digest.slice(7)}`)?.toString() ?? '') as { config: { Entrypoint: string[]; User: string }; rootfs: { diff_ids: string[] } };
    assert.deepEqual(config.config.Entrypoint, ['/pause']);
    assert.equal(config.config.User, '65535:65535');
    assert.deepEqual(config.rootfs.diff_ids, [manifest.layers[0]?.digest]);
  });

  it('is reproducible: the same files give the same bytes', async () => {
    const [a, b] = await Promise.all([ociImageArchive(spec), ociImageArchive({ ...spec, files: [...spec.files].reverse() })]);
    assert.equal(sha(a.archive), sha(b.archive));
  });
});

describe('layerTar()', () => {
  it('is a tar the system tar lists, with parent directories, owned by root, at time 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'layer-'));
    writeFileSync(join(dir, 'layer.tar'), await layerTar(spec.files));
    const listing = spawnSync('tar', ['-tvf', join(dir, 'layer.tar'), '--numeric-owner'], { encoding: 'utf8' });
    assert.equal(listing.status, 0, listing.stderr);
    const lines = listing.stdout.trim().split('\n');
    assert.deepEqual(lines.map((line) => line.split(/\s+/).at(-1)), ['etc/', 'etc/tracelab/', 'etc/tracelab/image', 'pause']);
    assert.ok(lines.every((line) => line.includes(' 0/0 ') && line.includes('1970-01-01')), listing.stdout);
    assert.match(lines[3] ?? '', /^-rwxr-xr-x/);
  });
});
