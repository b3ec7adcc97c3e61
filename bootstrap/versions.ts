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
  };
}

/** kubeadm's etcd image tag for an etcd release: `v3.6.16` → `3.6.16-0`. */
export function etcdImageTag(etcdVersion: string): string {
  return `${etcdVersion.replace(/^v/, '')}-0`;
}

/** Where images of an air-gapped lab are named: nothing by that name can be pulled, so nothing is. */
export const offlineImageRepository = 'tracelab.local/k8s';
