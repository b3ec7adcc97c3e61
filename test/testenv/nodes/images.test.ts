import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { $ } from 'zx';
import { requireComponents, waitFor } from '../../../testenv/components.ts';
import { renderContainerdConfig } from '../../../testenv/nodes/containerd-config.ts';
import { assembleImage, corednsImage, pauseImage } from '../../../testenv/nodes/images.ts';
import { createLab, type Lab } from '../../../testenv/nodes/lab.ts';
import { requireNodeHarness } from '../../../testenv/nodes/requirements.ts';

const work = mkdtempSync(path.join(tmpdir(), 'tracelab-images-test-'));
after(() => { rmSync(work, { recursive: true, force: true }); });

function sha256(file: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
}

describe('assembleImage()', () => {
  it('writes an OCI layout archive whose blobs match their digests, reproducibly', async () => {
    const program = path.join(work, 'hello');
    writeFileSync(program, '#!/bin/sh\necho hello\n');
    const spec = { name: 'tracelab.local/hello:1', files: [{ source: program, path: '/bin/hello' }], entrypoint: ['/bin/hello'] };
    const image = await assembleImage(spec, path.join(work, 'hello.tar'));
    const again = await assembleImage(spec, path.join(work, 'hello-again.tar'));
    assert.equal(again.digest, image.digest, 'same inputs, same manifest digest');

    const layout = path.join(work, 'layout');
    await $({ quiet: true })`mkdir -p ${layout} && tar -xf ${image.archive} -C ${layout}`;
    const blob = (digest: string): string => path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    const [entry] = index.manifests;
    assert.ok(entry, 'index.json lists the manifest');
    assert.equal(entry.digest, image.digest);
    assert.equal(entry.annotations['io.containerd.image.name'], 'tracelab.local/hello:1');
    const manifest = JSON.parse(readFileSync(blob(image.digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const digest of [image.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) assert.equal(sha256(blob(digest)), digest);
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as { config: { Entrypoint: string[] }; rootfs: { diff_ids: string[] } };
    assert.deepEqual(config.config.Entrypoint, ['/bin/hello']);
    assert.deepEqual(config.rootfs.diff_ids, manifest.layers.map((l) => l.digest));
    const layerListing = (await $({ quiet: true })`tar -tvf ${blob(manifest.layers[0]?.digest ?? '')}`).stdout;
    assert.match(layerListing, /^-rwxr-xr-x 0\/0 .* \.\/bin\/hello$/m);
  });
});

describe('the test images in a node\'s containerd', () => {
  let lab: Lab | undefined;
  after(async () => { await lab?.destroy(); });

  it('imports pause and coredns with ctr, and both run', async (t) => {
    if (!requireNodeHarness(t)) return;
    const binaries = requireComponents(t, ['containerd', 'ctr', 'containerd-shim-runc-v2', 'pause', 'coredns']);
    if (binaries === undefined) return;
    lab = await createLab({ purpose: 'test/testenv/nodes/images.test.ts' });
    const node = await lab.addNode('images');
    const run = async (args: readonly string[]): Promise<string> => (await node.executor.run(args)).stdout;
    for (const binary of binaries.slice(0, 3)) copyFileSync(binary, node.hostPath(`/usr/local/bin/${path.basename(binary)}`));
    const pause = pauseImage();
    const coredns = corednsImage();
    await node.executor.writeFile('/etc/containerd/config.toml', renderContainerdConfig({ sandboxImage: pause.name }));
    const containerd = node.start({ name: 'containerd', command: '/usr/local/bin/containerd', args: ['--config', '/etc/containerd/config.toml'] });
    await waitFor('containerd in the node', async () => ((await node.executor.run(['ctr', 'version'], { nothrow: true })).exitCode === 0 ? true : undefined), {
      deadlineMs: 20_000,
      status: () => containerd.exitStatus() ?? containerd.logTail(3),
    });

    const started = Date.now();
    const archives = await Promise.all([pause, coredns].map((spec) => assembleImage(spec, path.join(work, `${spec.name.replace(/\W/g, '_')}.tar`))));
    console.log(`# pause and coredns assembled in ${Date.now() - started} ms`);
    for (const image of archives) await run(['ctr', '-n', 'k8s.io', 'images', 'import', image.archive]);
    const listed = await run(['ctr', '-n', 'k8s.io', 'images', 'ls']);
    for (const image of archives) assert.match(listed, new RegExp(`^${image.name.replace(/[.:/]/g, '\\$&')} .* ${image.digest} `, 'm'));
    assert.match(listed, /^tracelab\.local\/pause:\S+ .*io\.cri-containerd\.pinned=pinned/m, 'the sandbox image is pinned');

    const cgroup = (name: string): string => `${node.cgroupRoot}/${name}`;
    assert.match(await run(['ctr', '-n', 'k8s.io', 'run', '--rm', '--cgroup', cgroup('coredns-check'), coredns.name, 'coredns-check', '/coredns', '-version']), /^CoreDNS-1\.14\.6$/m);
    await run(['ctr', '-n', 'k8s.io', 'run', '-d', '--cgroup', cgroup('pause-check'), pause.name, 'pause-check']);
    assert.match(await run(['ctr', '-n', 'k8s.io', 'tasks', 'ls']), /^pause-check\s+\d+\s+RUNNING$/m);
    await run(['ctr', '-n', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGTERM', 'pause-check']);
    await waitFor('pause to stop on SIGTERM', async () => (/^pause-check\s+\d+\s+STOPPED$/m.test(await run(['ctr', '-n', 'k8s.io', 'tasks', 'ls'])) ? true : undefined), { deadlineMs: 5_000 });

    const teardown = await lab.destroy();
    lab = undefined;
    assert.ok(teardown.nodes.images?.processes.some((p) => p.command === 'containerd'));
  });
});
