import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The one file every pin lives in (KEY=value lines): the Go components the tests and
 * `tracelab artifacts build` build, and what bootstrap installs.
 */
export const versionsFile = fileURLToPath(new URL('../testenv/components/versions.env', import.meta.url));

export interface Versions {
  readonly kubernetes: string;
  readonly etcd: string;
  readonly containerd: string;
  readonly cniPlugins: string;
  readonly crictl: string;
  readonly coredns: string;
  readonly runc: string;
  /** flanneld's release, and upstream's CNI plugin image for labs that pull. */
  readonly flannel: string;
  readonly flannelCniPluginImage: string;
  /** Image builds without a public registry: BuildKit and the distribution registry. */
  readonly buildkit: string;
  readonly distribution: string;
  /** kube-score, static checks of rendered manifests. */
  readonly kubeScore: string;
  /** SHA-256 of the release archives the online install downloads, by `<component>/<arch>`. */
  readonly releaseSha256: Readonly<Record<string, string>>;
}

export function parseVersions(text: string): Record<string, string> {
  const pins: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim());
    if (match !== null) pins[match[1] ?? ''] = match[2] ?? '';
  }
  return pins;
}

export function readVersions(file = versionsFile): Versions {
  const pins = parseVersions(readFileSync(file, 'utf8'));
  const pin = (key: string): string => {
    const value = pins[key];
    if (value === undefined) throw new Error(`${file} has no ${key}=… line`);
    return value;
  };
  return {
    kubernetes: pin('KUBERNETES_VERSION'),
    etcd: pin('ETCD_VERSION'),
    containerd: pin('CONTAINERD_VERSION'),
    cniPlugins: pin('CNI_PLUGINS_VERSION'),
    crictl: pin('CRICTL_VERSION'),
    coredns: pin('COREDNS_VERSION'),
    runc: pin('RUNC_VERSION'),
    flannel: pin('FLANNEL_VERSION'),
    flannelCniPluginImage: pin('FLANNEL_CNI_PLUGIN_IMAGE'),
    buildkit: pin('BUILDKIT_VERSION'),
    distribution: pin('DISTRIBUTION_VERSION'),
    kubeScore: pin('KUBE_SCORE_VERSION'),
    releaseSha256: Object.fromEntries(
      Object.entries(pins)
        .map(([key, value]) => [/^([A-Z_]+)_SHA256_([A-Z0-9]+)$/.exec(key), value] as const)
        .filter((entry): entry is [RegExpExecArray, string] => entry[0] !== null)
        .map(([match, value]) => [`${(match[1] ?? '').toLowerCase().replace(/_/g, '-')}/${(match[2] ?? '').toLowerCase()}`, value]),
    ),
  };
}

/** kubeadm's etcd image tag for an etcd release: `v3.6.16` → `3.6.16-0`. */
export function etcdImageTag(etcdVersion: string): string {
  return `${etcdVersion.replace(/^v/, '')}-0`;
}

/** Where images of an air-gapped lab are named: nothing by that name can be pulled, so nothing is. */
export const offlineImageRepository = 'tracelab.local/k8s';

/** Where kubeadm pulls its images from online. */
export const onlineImageRepository = 'registry.k8s.io';
