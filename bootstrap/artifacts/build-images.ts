import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildkitImage } from '../../build/builders/buildkit.ts';
import { registryImage } from '../../registry/render.ts';
import { withLibraries } from './kubeadm-images.ts';
import type { ImageFile, ImageSpec } from './oci-image.ts';

/** The shell tools the build pod's script uses, as busybox (Debian's busybox-static) provides them. */
const busyboxApplets = ['sh', 'tar', 'mkdir', 'sed', 'sleep', 'cat'];

/**
 * The in-cluster build's images, named as the registry layer and the BuildKit builder pin them:
 * distribution's registry, and buildkitd + buildctl + runc + a shell — the same programs at the
 * same versions, built from the Go module proxy.
 */
export async function buildImageSpecs(binDir: string, busybox = '/bin/busybox', runc = '/usr/sbin/runc'): Promise<ImageSpec[]> {
  const binary = async (name: string, path: string): Promise<ImageFile> => ({ path, content: await readFile(join(binDir, name)), mode: 0o755 });
  const shell = await readFile(busybox);
  return [
    {
      name: registryImage,
      files: [await binary('registry', 'bin/registry')],
      config: { Env: ['PATH=/bin'], User: '65534:65534' },
    },
    {
      name: buildkitImage,
      files: [
        await binary('buildkitd', 'usr/bin/buildkitd'),
        await binary('buildctl', 'usr/bin/buildctl'),
        ...(await withLibraries(runc, [])).map((file) => (file.path === runc.slice(1) ? { ...file, path: 'usr/bin/runc' } : file)),
        ...busyboxApplets.map((applet) => ({ path: `bin/${applet}`, content: shell, mode: 0o755 })),
        // buildkitd's and the script's scratch space; the pod's root filesystem is writable.
        { path: 'tmp/.keep', content: '', mode: 0o644 },
      ],
      config: { Env: ['PATH=/usr/bin:/bin'] },
    },
  ];
}
