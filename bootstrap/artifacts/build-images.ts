import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildkitImage, buildkitRootlessImage, rootlessUid } from '../../build/builders/buildkit.ts';
import { registryImage } from '../../registry/render.ts';
import { localPathProvisionerImage } from '../../storage/render.ts';
import { withLibraries } from './kubeadm-images.ts';
import { layerTar, type ImageFile, type ImageSpec } from './oci-image.ts';

/** The shell tools the build pod's script uses, as busybox (Debian's busybox-static) provides them. */
const busyboxApplets = ['sh', 'tar', 'mkdir', 'sed', 'sleep', 'cat'];
/** …and the storage layer's helper pods' scripts (storage/render.ts), where upstream's image has Alpine's busybox. */
const storageHelperApplets = ['sh', 'mkdir', 'chmod', 'rm', 'dirname'];

/**
 * `security.capability` (struct vfs_cap_data, revision 2, effective): what `setcap CAPS+ep` writes.
 * newuidmap/newgidmap get these instead of the setuid bit (see ../shared/REAL-CLUSTER.md).
 */
export function fileCapabilities(...bits: readonly number[]): Buffer {
  const value = Buffer.alloc(20);
  value.writeUInt32LE(0x02000001, 0);
  value.writeUInt32LE(bits.reduce((mask, bit) => (mask | (1 << bit)) >>> 0, 0), 4);
  return value;
}
const capSetgid = 6;
const capSetuid = 7;
const capSetfcap = 31;

/**
 * What the rootless image adds to BuildKit's: rootlesskit (its entrypoint upstream), Debian's
 * newuidmap/newgidmap with file capabilities and their libraries, and the user 1000 with the
 * subordinate ids upstream's image gives it.
 */
async function rootlessFiles(binDir: string, uidmapDir: string, below: readonly ImageFile[]): Promise<ImageFile[]> {
  const user = `user:x:${String(rootlessUid)}:${String(rootlessUid)}:rootless BuildKit:/tmp:/bin/sh`;
  const helpers = [
    ...(await withLibraries(join(uidmapDir, 'newuidmap'), [])),
    ...(await withLibraries(join(uidmapDir, 'newgidmap'), [])),
  ].map((file) => {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    if (name === 'newuidmap') return { ...file, path: 'usr/bin/newuidmap', mode: 0o755, xattrs: { 'security.capability': fileCapabilities(capSetuid, capSetfcap) } };
    if (name === 'newgidmap') return { ...file, path: 'usr/bin/newgidmap', mode: 0o755, xattrs: { 'security.capability': fileCapabilities(capSetgid) } };
    return file;
  }).filter((file) => !below.some((other) => other.path === file.path));
  return [
    { path: 'usr/bin/rootlesskit', content: await readFile(join(binDir, 'rootlesskit')), mode: 0o755 },
    ...new Map(helpers.map((file) => [file.path, file])).values(),
    { path: 'etc/passwd', content: `root:x:0:0:root:/root:/bin/sh\n${user}\n`, mode: 0o644 },
    { path: 'etc/group', content: `root:x:0:\nuser:x:${String(rootlessUid)}:\n`, mode: 0o644 },
    { path: 'etc/subuid', content: 'user:100000:65536\n', mode: 0o644 },
    { path: 'etc/subgid', content: 'user:100000:65536\n', mode: 0o644 },
  ];
}

/**
 * The in-cluster build's images, named as the registry layer and the BuildKit builder pin them:
 * distribution's registry, and buildkitd + buildctl + runc + a shell — the same programs at the
 * same versions, built from the Go module proxy.
 */
export async function buildImageSpecs(binDir: string, busybox = '/bin/busybox', runc = '/usr/sbin/runc', uidmapDir = '/usr/bin'): Promise<ImageSpec[]> {
  const binary = async (name: string, path: string): Promise<ImageFile> => ({ path, content: await readFile(join(binDir, name)), mode: 0o755 });
  const shell = await readFile(busybox);
  const buildkitFiles: ImageFile[] = [
    await binary('buildkitd', 'usr/bin/buildkitd'),
    await binary('buildctl', 'usr/bin/buildctl'),
    ...(await withLibraries(runc, [])).map((file) => (file.path === runc.slice(1) ? { ...file, path: 'usr/bin/runc' } : file)),
    ...busyboxApplets.map((applet) => ({ path: `bin/${applet}`, content: shell, mode: 0o755 })),
    // buildkitd's and the script's scratch space; the pod's root filesystem is writable.
    { path: 'tmp/.keep', content: '', mode: 0o644 },
  ];
  return [
    {
      name: registryImage,
      files: [await binary('registry', 'bin/registry')],
      config: { Env: ['PATH=/bin'], User: '65534:65534' },
    },
    {
      name: buildkitImage,
      files: buildkitFiles,
      config: { Env: ['PATH=/usr/bin:/bin'] },
    },
    {
      // The storage layer's provisioner, and the shell its helper pods run in the same image.
      name: localPathProvisionerImage,
      files: [await binary('local-path-provisioner', 'usr/bin/local-path-provisioner'), ...storageHelperApplets.map((applet) => ({ path: `bin/${applet}`, content: shell, mode: 0o755 }))],
      config: { Env: ['PATH=/usr/bin:/bin'] },
    },
    {
      // BuildKit's layer as it is (shared with the image above), the rootless additions on top.
      name: buildkitRootlessImage,
      baseLayers: [await layerTar(buildkitFiles)],
      files: await rootlessFiles(binDir, uidmapDir, buildkitFiles),
      config: { Entrypoint: ['rootlesskit', 'buildkitd'], Env: ['PATH=/usr/bin:/bin', 'USER=user', 'HOME=/tmp', 'XDG_RUNTIME_DIR=/tmp/run'], User: `${String(rootlessUid)}:${String(rootlessUid)}` },
    },
  ];
}
