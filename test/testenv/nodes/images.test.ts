import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { renderContainerdConfig } from '../../../bootstrap/containerd-config.ts';
import { requireComponents, waitFor } from '../../../testenv/components.ts';
import { corednsImageName, importImage, PAUSE_IMAGE, testImageSpecs } from '../../../testenv/nodes/images.ts';
import { createLab, type Lab } from '../../../testenv/nodes/lab.ts';
import { requireNodeHarness } from '../../../testenv/nodes/requirements.ts';

const escape = (text: string): string => text.replace(/[.:/]/g, '\\$&');

describe('the product\'s pause and coredns images in a node\'s containerd', () => {
  let lab: Lab | undefined;
  after(async () => { await lab?.destroy(); });

  it('names them as bootstrap does', () => {
    assert.equal(PAUSE_IMAGE, 'tracelab.local/k8s/pause:3.10.2');
    assert.equal(corednsImageName(), 'tracelab.local/k8s/coredns:v1.14.6');
  });

  it('imports pause and coredns with ctr, and both run', async (t) => {
    if (!requireNodeHarness(t)) return;
    const binaries = requireComponents(t, ['containerd', 'ctr', 'containerd-shim-runc-v2', 'pause', 'coredns']);
    if (binaries === undefined) return;
    lab = await createLab({ purpose: 'test/testenv/nodes/images.test.ts' });
    const node = await lab.addNode('images');
    const run = async (args: readonly string[]): Promise<string> => (await node.executor.run(args)).stdout;
    for (const binary of binaries.slice(0, 3)) copyFileSync(binary, node.hostPath(`/usr/local/bin/${path.basename(binary)}`));
    // what bootstrap writes on a host whose processes cannot lower oom_score_adj and that has no systemd
    const config = renderContainerdConfig({ restrictOomScoreAdj: true, systemdCgroup: false, sandboxImage: PAUSE_IMAGE, cniBinDir: '/opt/cni/bin' });
    await node.executor.writeFile('/etc/containerd/config.toml', config);
    const containerd = node.start({ name: 'containerd', command: '/usr/local/bin/containerd', args: ['--config', '/etc/containerd/config.toml'] });
    await waitFor('containerd in the node', async () => ((await node.executor.run(['ctr', 'version'], { nothrow: true })).exitCode === 0 ? true : undefined), {
      deadlineMs: 20_000,
      status: () => containerd.exitStatus() ?? containerd.logTail(3),
    });

    const started = Date.now();
    const specs = await testImageSpecs();
    const images = [await importImage(node, specs.pause), await importImage(node, specs.coredns)];
    console.log(`# pause and coredns built and imported in ${Date.now() - started} ms`);
    assert.deepEqual(images.map((image) => image.name), [PAUSE_IMAGE, corednsImageName()]);
    assert.equal((await run(['ls', '-A', '/var/lib/tracelab/images'])).trim(), '', 'the archives are removed once imported');
    const listed = await run(['ctr', '-n', 'k8s.io', 'images', 'ls']);
    for (const image of images) assert.match(listed, new RegExp(`^${escape(image.name)} .* ${image.digest} `, 'm'));
    assert.match(listed, new RegExp(`^${escape(PAUSE_IMAGE)} .*io\\.cri-containerd\\.pinned=pinned`, 'm'), 'the sandbox image is pinned');

    const cgroup = (name: string): string => `${node.cgroupRoot}/${name}`;
    assert.match(await run(['ctr', '-n', 'k8s.io', 'run', '--rm', '--cgroup', cgroup('coredns-check'), specs.coredns.name, 'coredns-check', '/coredns', '-version']), /^CoreDNS-1\.14\.6$/m);
    await run(['ctr', '-n', 'k8s.io', 'run', '-d', '--cgroup', cgroup('pause-check'), specs.pause.name, 'pause-check']);
    assert.match(await run(['ctr', '-n', 'k8s.io', 'tasks', 'ls']), /^pause-check\s+\d+\s+RUNNING$/m);
    await run(['ctr', '-n', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGTERM', 'pause-check']);
    await waitFor('pause to stop on SIGTERM', async () => (/^pause-check\s+\d+\s+STOPPED$/m.test(await run(['ctr', '-n', 'k8s.io', 'tasks', 'ls'])) ? true : undefined), { deadlineMs: 5_000 });

    const teardown = await lab.destroy();
    lab = undefined;
    assert.ok(teardown.nodes.images?.processes.some((p) => p.command === 'containerd'));
  });
});
