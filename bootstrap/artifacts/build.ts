import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { UserError } from '../../core/errors.ts';
import type { Output } from '../../core/output.ts';
import { etcdImageTag, offlineImageRepository, readVersions, versionsFile } from '../versions.ts';
import { buildImageSpecs } from './build-images.ts';
import { flannelImageSpecs } from './flannel-image.ts';
import { meshImageSpecs } from './mesh-images.ts';
import { nodeBaseImageArchive } from './node-base-image.ts';
import { imageComponent, kubeadmImageSpecs, monitoringImageSpecs } from './kubeadm-images.ts';
import { ociImageArchive } from './oci-image.ts';

const buildScript = fileURLToPath(new URL('../../testenv/components/build.sh', import.meta.url));

/** What an artifacts directory holds, written last: a directory without it is incomplete. */
export interface ArtifactsManifest {
  readonly generator: 'tracelab artifacts build';
  readonly kubernetesVersion: string;
  readonly imageRepository: string;
  readonly etcdImageTag: string;
  readonly corednsImageTag: string;
  /** sha256 of every input (versions file, source binaries): equal means nothing to rebuild. */
  readonly inputsDigest: string;
  readonly images: readonly { readonly reference: string; readonly file: string; readonly manifestDigest: string }[];
  /** Every file, relative to the directory, with its sha256. */
  readonly files: Readonly<Record<string, string>>;
  /**
   * The Node base image the demo's builds start from, pushed to the lab registry by `deploy:demo
   * --artifacts` (never copied to the hosts nor imported into containerd).
   */
  readonly baseImage?: { readonly reference: string; readonly file: string; readonly manifestDigest: string; readonly sha256: string; readonly nodeVersion: string };
}

export const manifestFile = 'manifest.json';
/** In an artifacts directory: the Debian + Node 24 base image of the demo's builds. */
export const nodeBaseArchive = 'images/node-base.tar';

export interface ArtifactsSources {
  /** Where the Go-built components are (`$TRACELAB_CACHE/bin`). */
  readonly binDir: string;
  /** runc, from the distribution's package. */
  readonly runc: string;
  /** A static busybox (Debian's busybox-static): the BuildKit image's shell; default /bin/busybox. */
  readonly busybox?: string;
}

function busyboxOf(sources: ArtifactsSources): string {
  return sources.busybox ?? '/bin/busybox';
}

/** Binaries copied as they are: artifact path → source path. */
function binaryCopies(sources: ArtifactsSources): Record<string, string> {
  const bin = (name: string): string => join(sources.binDir, name);
  return {
    'bin/kubelet': bin('kubelet'),
    'bin/kubeadm': bin('kubeadm'),
    'bin/kubectl': bin('kubectl'),
    'bin/containerd': bin('containerd'),
    'bin/containerd-shim-runc-v2': bin('containerd-shim-runc-v2'),
    'bin/ctr': bin('ctr'),
    'bin/crictl': bin('crictl'),
    'bin/runc': sources.runc,
    'cni/bridge': bin('cni/bridge'),
    'cni/host-local': bin('cni/host-local'),
    'cni/loopback': bin('cni/loopback'),
    'cni/portmap': bin('cni/portmap'),
    'cni/flannel': bin('cni/flannel'),
    // The mesh layer generates Istio's manifests with it (offline: its charts are built in).
    'bin/istioctl': bin('istioctl'),
  };
}

const imageBinaries = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'etcd', 'coredns', 'pause', 'jaeger', 'prometheus', 'node-exporter', 'metrics-server', 'flanneld', 'flannel-install-conf', 'registry', 'buildkitd', 'buildctl', 'rootlesskit', 'local-path-provisioner', 'pilot-discovery', 'install-cni', 'cni/istio-cni'];

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

export async function readManifest(dir: string): Promise<ArtifactsManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, manifestFile), 'utf8')) as ArtifactsManifest;
  } catch {
    return undefined;
  }
}

/** Whether every file the manifest lists is there with its digest. */
async function intact(dir: string, manifest: ArtifactsManifest): Promise<boolean> {
  if (manifest.baseImage === undefined) return false;
  for (const [file, digest] of [...Object.entries(manifest.files), [manifest.baseImage.file, manifest.baseImage.sha256] as const]) {
    try {
      if ((await sha256File(join(dir, file))) !== digest) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * `tracelab artifacts build`: everything an air-gapped lab installs, from the Go module proxy and
 * locally assembled images — binaries, CNI plugins, one OCI archive per kubeadm and monitoring image
 * (Grafana excepted) and a manifest with every digest. A re-run with the same inputs writes nothing.
 */
export async function buildArtifacts(out: string, sources: ArtifactsSources, output: Output): Promise<{ changed: boolean; manifest: ArtifactsManifest }> {
  await output.step('Build the pinned components from the Go module proxy (cached)', async () => {
    // The build script fills the same cache the binaries are read from.
    const built = await $({ nothrow: true, quiet: true, env: { ...process.env, TRACELAB_CACHE: dirname(sources.binDir) } })`bash ${buildScript} node-all node-exporter metrics-server jaeger prometheus etcd kubernetes registry buildkit rootlesskit local-path-provisioner istio`;
    if (built.exitCode !== 0) throw new UserError(`building the components failed: ${built.stderr.trim().split('\n').slice(-3).join(' | ')} — see the message above, then run again`, { exitCode: 1 });
  });
  const versions = readVersions();
  const copies = binaryCopies(sources);
  const inputs = createHash('sha256').update(await readFile(versionsFile));
  for (const source of [...Object.values(copies), ...imageBinaries.map((name) => join(sources.binDir, name)), busyboxOf(sources), '/usr/bin/newuidmap', '/usr/bin/newgidmap'].sort()) {
    try {
      inputs.update(`${source}:${await sha256File(source)}\n`);
    } catch {
      throw new UserError(`${source} is missing — install it (runc: apt-get install runc; busybox: apt-get install busybox-static; newuidmap: apt-get install uidmap) or run \`bash ${buildScript} node-all registry buildkit rootlesskit local-path-provisioner istio\``);
    }
  }
  const inputsDigest = inputs.digest('hex');
  const previous = await readManifest(out);
  if (previous?.inputsDigest === inputsDigest && (await intact(out, previous))) {
    output.info(`artifacts in ${out} are up to date (${Object.keys(previous.files).length} files)`);
    return { changed: false, manifest: previous };
  }

  const files: Record<string, string> = {};
  await rm(join(out, manifestFile), { force: true });
  await output.step(`Copy ${Object.keys(copies).length} binaries`, async () => {
    for (const [target, source] of Object.entries(copies)) {
      await mkdir(dirname(join(out, target)), { recursive: true });
      await copyFile(source, join(out, target));
      files[target] = await sha256File(join(out, target));
    }
  });
  const config = {
    imageRepository: offlineImageRepository,
    etcdImageTag: etcdImageTag(versions.etcd),
    corednsImageTag: versions.coredns,
  };
  const images: { reference: string; file: string; manifestDigest: string }[] = [];
  await output.step('Assemble the kubeadm, flannel, monitoring, registry, BuildKit, storage and mesh images (OCI archives)', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'tracelab-artifacts-'));
    try {
      const clusterConfig = join(scratch, 'cluster.yaml');
      await writeFile(
        clusterConfig,
        JSON.stringify({
          apiVersion: 'kubeadm.k8s.io/v1beta4',
          kind: 'ClusterConfiguration',
          kubernetesVersion: versions.kubernetes,
          imageRepository: config.imageRepository,
          etcd: { local: { imageTag: config.etcdImageTag } },
          dns: { imageTag: config.corednsImageTag },
        }),
      );
      const listed = await $({ quiet: true })`${join(out, 'bin/kubeadm')} config images list --config ${clusterConfig}`;
      const references = listed.stdout.trim().split('\n').filter((line) => line !== '');
      for (const spec of [...(await kubeadmImageSpecs(references, sources.binDir)), ...(await flannelImageSpecs(sources.binDir)), ...(await monitoringImageSpecs(sources.binDir)), ...(await buildImageSpecs(sources.binDir, busyboxOf(sources), sources.runc)), ...(await meshImageSpecs(sources.binDir))]) {
        const { archive, manifestDigest } = await ociImageArchive(spec);
        // Named by component; a second image of one (BuildKit's rootless one) by component and tag.
        let file = `images/${imageComponent(spec.name)}.tar`;
        if (file in files) file = `images/${imageComponent(spec.name)}-${spec.name.slice(spec.name.lastIndexOf(':') + 1).replace(/[^\w.-]/g, '_')}.tar`;
        await mkdir(join(out, 'images'), { recursive: true });
        await writeFile(join(out, file), archive);
        files[file] = createHash('sha256').update(archive).digest('hex');
        images.push({ reference: spec.name, file, manifestDigest });
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
  const baseImage = await output.step('Assemble the Node base image of the demo builds (Debian slim by mmdebstrap, Node from npm)', async () => {
    const built = await nodeBaseImageArchive({ cacheDir: dirname(sources.binDir) });
    await writeFile(join(out, nodeBaseArchive), built.archive);
    return { reference: built.name, file: nodeBaseArchive, manifestDigest: built.manifestDigest, sha256: createHash('sha256').update(built.archive).digest('hex'), nodeVersion: built.nodeVersion };
  });
  const manifest: ArtifactsManifest = { generator: 'tracelab artifacts build', kubernetesVersion: versions.kubernetes, ...config, inputsDigest, images, files, baseImage };
  await writeFile(join(out, manifestFile), `${JSON.stringify(manifest, null, 2)}\n`);
  return { changed: true, manifest };
}
