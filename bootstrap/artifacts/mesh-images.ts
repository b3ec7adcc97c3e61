import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { istioImages } from '../../mesh/istio-operator.ts';
import type { ImageSpec } from './oci-image.ts';

/** Istio's user: istiod runs as it, as upstream's image does. */
const istioUid = 1337;

/**
 * The mesh layer's images, named as istioctl's manifests name them, holding the programs built from
 * the pinned istio.io/istio: istiod (pilot-discovery), and the CNI node agent with the CNI plugin it
 * copies onto each node. The proxy image (Envoy, C++) cannot be assembled here.
 */
export async function meshImageSpecs(binDir: string): Promise<ImageSpec[]> {
  const binary = async (name: string, path: string): Promise<{ path: string; content: Buffer; mode: number }> => ({ path, content: await readFile(join(binDir, name)), mode: 0o755 });
  return [
    {
      name: istioImages.pilot,
      files: [await binary('pilot-discovery', 'usr/local/bin/pilot-discovery')],
      config: { Entrypoint: ['/usr/local/bin/pilot-discovery'], User: `${String(istioUid)}:${String(istioUid)}` },
    },
    {
      // The DaemonSet runs `install-cni` by name; it copies /opt/cni/bin/istio-cni onto the node.
      name: istioImages.installCni,
      files: [await binary('install-cni', 'usr/local/bin/install-cni'), await binary('cni/istio-cni', 'opt/cni/bin/istio-cni')],
      config: { Entrypoint: ['/usr/local/bin/install-cni'], Env: ['PATH=/usr/local/bin:/usr/bin:/bin:/opt/cni/bin'], WorkingDir: '/opt/cni/bin' },
    },
  ];
}
