import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { offlineFlannelImage } from '../cni/flannel.ts';
import { readVersions } from '../versions.ts';
import { iptablesFiles } from './kubeadm-images.ts';
import type { ImageSpec } from './oci-image.ts';

/**
 * flanneld's image, laid out like upstream's where the DaemonSet looks (`/opt/bin/flanneld`,
 * `/opt/bin/install-conf`), plus the `flannel` CNI plugin at `/flannel` (upstream ships that in an
 * image of its own) and iptables, which flanneld runs for its masquerade and forward rules.
 */
export async function flannelImageSpecs(binDir: string, flannelVersion: string = readVersions().flannel): Promise<ImageSpec[]> {
  const binary = async (name: string, path: string): Promise<{ path: string; content: Buffer; mode: number }> => ({ path, content: await readFile(join(binDir, name)), mode: 0o755 });
  return [
    {
      name: offlineFlannelImage(flannelVersion),
      files: [
        await binary('flanneld', 'opt/bin/flanneld'),
        await binary('flannel-install-conf', 'opt/bin/install-conf'),
        await binary('cni/flannel', 'flannel'),
        ...(await iptablesFiles()),
      ],
      config: { Entrypoint: ['/opt/bin/flanneld'] },
    },
  ];
}
