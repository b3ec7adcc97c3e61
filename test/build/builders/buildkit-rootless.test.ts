// Integration on a real node: BuildKit rootless and privileged in the build pods of a lab tracelab
// bootstrapped from its artifacts — a Dockerfile with a RUN step built and pushed to the lab
// registry in each mode, the digests returned, the two timed in the same run; the rootless image's
// newuidmap carrying its file capabilities; and a rootless pod whose newuidmap cannot map ids
// failing in one line that names --buildkit-mode privileged.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { buildImageSpecs } from '../../../bootstrap/artifacts/build-images.ts';
import { layerTar, ociImageArchive, type ImageSpec } from '../../../bootstrap/artifacts/oci-image.ts';
import type { BuildRequest } from '../../../build/builder.ts';
import { buildkitBuilder, buildkitImage, buildkitRootlessImage, type BuildkitMode } from '../../../build/builders/buildkit.ts';
import { labManifestDigest } from '../../../build/lab-registry.ts';
import { pushImageArchive } from '../../../build/push-image.ts';
import { UserError, exitCodes } from '../../../core/errors.ts';
import { createKube, type KubeClient } from '../../../core/kube/client.ts';
import { forwardToService } from '../../../core/kube/port-forward.ts';
import { createRecordingOutput } from '../../../core/output.ts';
import { buildNamespace, inClusterRegistryHost, registryNamespace, registryPort } from '../../../registry/address.ts';
import { componentPath, isBuilt, requireComponents, type ComponentBinary } from '../../../testenv/components.ts';
import { createLab, type Lab } from '../../../testenv/nodes/lab.ts';
import type { TestNode } from '../../../testenv/nodes/node.ts';
import { importImage } from '../../../testenv/nodes/images.ts';
import { nodeHarnessUnavailable, requireNodeHarness } from '../../../testenv/nodes/requirements.ts';
import { sharedArtifactsDir } from '../../../testenv/artifacts.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(repo, 'cli/tracelab.ts');
const binaries = [
  ...['kubelet', 'kubeadm', 'kube-proxy', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'crictl', 'coredns', 'pause', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
  ...['jaeger', 'prometheus', 'node-exporter', 'metrics-server', 'registry', 'buildkitd', 'buildctl', 'rootlesskit'],
] as ComponentBinary[];

/** A layer's files as GNU tar extracts them with their extended attributes, and getcap's view of one. */
function capabilitiesAfterExtract(layer: Buffer, path: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tracelab-layer-'));
  try {
    const extracted = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '-xpf', '-', '-C', dir], { input: layer });
    assert.equal(extracted.status, 0, extracted.stderr.toString());
    return spawnSync('getcap', [join(dir, path)], { encoding: 'utf8' }).stdout.replace(`${dir}/`, '').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('BuildKit rootless and privileged on a real node', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  let base: string | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-buildkit-rootless-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');
  const timings: Record<string, number> = {};

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, binaries) !== undefined && node !== undefined;

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !binaries.every(isBuilt)) return;
    lab = await createLab({ purpose: 'test/build/builders/buildkit-rootless.test.ts' });
    node = await lab.addNode('rootless1');
    // The Service range routed onto the lab segment, as on a host with a default route (see test/bootstrap/standalone.test.ts).
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it("the rootless image's newuidmap and newgidmap carry file capabilities in their layer, not the setuid bit", async (t) => {
    if (requireComponents(t, ['buildkitd', 'buildctl', 'rootlesskit']) === undefined) return;
    const specs = await buildImageSpecs(dirname(componentPath('buildkitd')));
    const rootless = specs.find((spec) => spec.name === buildkitRootlessImage);
    assert.ok(rootless !== undefined, `${buildkitRootlessImage} among ${specs.map((spec) => spec.name).join(', ')}`);
    assert.deepEqual(rootless.config.Entrypoint, ['rootlesskit', 'buildkitd']);
    assert.equal(rootless.config.User, '1000:1000');
    const layer = await layerTar(rootless.files);
    assert.equal(capabilitiesAfterExtract(layer, 'usr/bin/newuidmap'), 'usr/bin/newuidmap cap_setuid,cap_setfcap=ep');
    assert.equal(capabilitiesAfterExtract(layer, 'usr/bin/newgidmap'), 'usr/bin/newgidmap cap_setgid=ep');
    for (const name of ['newuidmap', 'newgidmap']) assert.equal((rootless.files.find((file) => file.path === `usr/bin/${name}`)?.mode ?? 0) & 0o4000, 0, `${name} not setuid`);
    const text = (path: string): string => String(rootless.files.find((file) => file.path === path)?.content);
    assert.equal(text('etc/subuid'), 'user:100000:65536\n');
    assert.equal(text('etc/subgid'), 'user:100000:65536\n');
    assert.match(text('etc/passwd'), /^user:x:1000:1000:/m);
  });

  it('bootstraps the lab from the artifacts and pushes a small base image with a shell to the lab registry', async (t) => {
    if (!ready(t)) return;
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
    const run = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, 'bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--timeout', '4m'], { nothrow: true, env: { CI: 'true' } });
    assert.equal(run.exitCode, 0, run.stderr);
    kube = createKube({ kubeconfig, context: 'tracelab' });
    const busybox = readFileSync('/bin/busybox');
    const shell: ImageSpec = { name: 'tracelab.local/test/busybox:1', files: ['sh', 'cat', 'echo', 'id'].map((applet) => ({ path: `bin/${applet}`, content: busybox, mode: 0o755 })), config: { Env: ['PATH=/bin'] } };
    const archive = join(work, 'busybox.tar');
    writeFileSync(archive, (await ociImageArchive(shell)).archive);
    const forward = await forwardToService(kube, registryNamespace, 'registry', registryPort);
    try {
      const digest = await pushImageArchive(archive, new URL(`http://127.0.0.1:${String(forward.port)}`), 'tracelab/test-busybox', '1');
      base = `${inClusterRegistryHost}/tracelab/test-busybox@${digest}`;
    } finally {
      await forward.close();
    }
  });

  /** A one-image build whose RUN step prints the user namespace's id map; its log and digest. */
  async function build(mode: BuildkitMode, t: TestContext, rootlessImage = buildkitRootlessImage): Promise<{ digest: string | undefined; log: string[]; ms: number }> {
    const context = join(work, `context-${mode}`);
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), `FROM ${base ?? ''}\nRUN echo "uid_map: $(cat /proc/self/uid_map)" && id && echo ${mode} >/built-by\n`);
    const tarball = spawnSync('tar', ['-czf', '-', '-C', context, '.']).stdout;
    const label = `probe${mode}`;
    const request: BuildRequest = {
      images: [{ label, image: `${inClusterRegistryHost}/tracelab/${label}:1`, buildArgs: {}, cacheImage: `${inClusterRegistryHost}/tracelab/cache:${label}` }],
      context: () => Readable.from([tarball]),
      insecureRegistries: [inClusterRegistryHost],
    };
    const output = createRecordingOutput();
    const builder = buildkitBuilder(kube as KubeClient, { namespace: buildNamespace, image: buildkitImage, rootlessImage, mode, deadlineSeconds: 600 });
    const started = Date.now();
    try {
      const digests = await builder.build(request, output, new AbortController().signal);
      return { digest: digests.get(label), log: output.lines, ms: Date.now() - started };
    } finally {
      // buildkitd's own lines in full when it did not start (its stack trace left out), else the end of the log.
      const daemon = output.lines.filter((line) => line.includes('buildkitd: ') && !/buildkitd: (\t|github\.com|main\.|runtime)/.test(line));
      t.diagnostic((daemon.length > 0 ? daemon : output.lines.slice(-12)).join('\n'));
    }
  }

  it('builds rootless (uid 1000 in a user namespace of its own) and privileged, both pushed to the lab registry, the digests returned; the time of each', async (t) => {
    if (!ready(t) || kube === undefined || base === undefined) return;
    for (const mode of ['rootless', 'privileged'] as const) {
      const { digest, log, ms } = await build(mode, t);
      timings[mode] = ms;
      t.diagnostic(`${mode} build (pod start, buildkitd start, base pull, RUN, push): ${String(ms)} ms`);
      assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.equal(await labManifestDigest(kube, `tracelab/probe${mode}`, '1'), digest, 'the pushed manifest is the one returned');
      // The RUN step's output line (its progress line names the command too).
      const uidMap = log.find((line) => /│ #\d+ [\d.]+ uid_map:/.test(line)) ?? '';
      // Rootless: root of the build maps to uid 1000 outside, the rest to the subordinate ids; privileged: the identity.
      if (mode === 'rootless') {
        assert.match(uidMap, /uid_map: +0 +1000 +1\s*$/, log.join('\n'));
        assert.ok(log.some((line) => /│ #\d+ [\d.]+ +1 +100000 +65536\s*$/.test(line)), log.join('\n'));
      } else {
        assert.match(uidMap, /uid_map: +0 +0 +4294967295\s*$/, log.join('\n'));
      }
    }
    t.diagnostic(`rootless ÷ privileged: ${((timings.rootless ?? 0) / (timings.privileged ?? 1)).toFixed(2)}`);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: buildNamespace })).items, [], 'build pods cleaned up');
  });

  it('a rootless pod whose newuidmap cannot map ids (no file capabilities) fails in one line naming --buildkit-mode privileged, and is cleaned up', async (t) => {
    if (!ready(t) || kube === undefined || base === undefined) return;
    const rootless = (await buildImageSpecs(dirname(componentPath('buildkitd')))).find((spec) => spec.name === buildkitRootlessImage) as ImageSpec;
    const broken: ImageSpec = { ...rootless, name: 'tracelab.local/test/buildkit:rootless-no-caps', files: rootless.files.map(({ path, content, mode }) => ({ path, content, mode })) };
    await importImage(node as TestNode, broken);
    const err = await build('rootless', t, broken.name).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.exitCode, exitCodes.buildFailed);
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, /^rootless buildkitd did not start in build pod tracelab-build\/build-proberootless-[0-9a-f]+ \(.*newuidmap.*\): .* — pass --buildkit-mode privileged$/);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: buildNamespace })).items, [], 'build pod cleaned up');
  });
});
