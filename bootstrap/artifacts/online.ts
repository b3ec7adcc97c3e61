import { UserError } from '../../core/errors.ts';
import type { HostFacts } from '../host-facts.ts';
import type { Versions } from '../versions.ts';

/** How a host installs packages: Debian/Ubuntu, or the RHEL family. */
export type PackageFamily = 'deb' | 'rpm';

export type Arch = 'amd64' | 'arm64';

const debFamily = new Set(['debian', 'ubuntu']);
const rpmFamily = new Set(['rhel', 'rocky', 'almalinux', 'centos', 'fedora']);

export function packageFamily(os: HostFacts['os']): PackageFamily {
  const ids = [os.id, ...os.idLike];
  if (ids.some((id) => debFamily.has(id))) return 'deb';
  if (ids.some((id) => rpmFamily.has(id))) return 'rpm';
  throw new UserError(`${os.id} ${os.versionId} has neither apt nor dnf packages from pkgs.k8s.io — use a Debian/Ubuntu or RHEL-family host, or install air-gapped with --artifacts DIR`);
}

/** `uname -m` → the name release archives use. */
export function archOf(machine: string): Arch {
  if (machine === 'x86_64') return 'amd64';
  if (machine === 'aarch64' || machine === 'arm64') return 'arm64';
  throw new UserError(`${machine} hosts are not supported: containerd, runc and the CNI plugins are pinned for amd64 and arm64 only`);
}

/** A release archive pinned by SHA-256, and what to take from it. */
export interface PinnedDownload {
  readonly name: string;
  readonly url: string;
  readonly sha256: string;
  /** Archive member (or '' for a plain binary) → where it is installed. */
  readonly installs: readonly { readonly member: string; readonly to: string }[];
}

export const cniPlugins = ['bridge', 'host-local', 'loopback', 'portmap'] as const;

/** containerd, runc and the CNI plugins from their GitHub releases, each checked against the versions file. */
export function releaseDownloads(versions: Versions, arch: Arch): PinnedDownload[] {
  const sha256 = (component: string): string => {
    const digest = versions.releaseSha256[`${component}/${arch}`];
    if (digest === undefined || !/^[0-9a-f]{64}$/.test(digest)) throw new Error(`the versions file has no SHA-256 for ${component} on ${arch} (${component.toUpperCase().replace(/-/g, '_')}_SHA256_${arch.toUpperCase()}=…)`);
    return digest;
  };
  const bare = (version: string): string => version.replace(/^v/, '');
  return [
    {
      name: 'containerd',
      url: `https://github.com/containerd/containerd/releases/download/${versions.containerd}/containerd-${bare(versions.containerd)}-linux-${arch}.tar.gz`,
      sha256: sha256('containerd'),
      installs: ['containerd', 'containerd-shim-runc-v2', 'ctr'].map((name) => ({ member: `bin/${name}`, to: `/usr/local/bin/${name}` })),
    },
    {
      name: 'runc',
      url: `https://github.com/opencontainers/runc/releases/download/${versions.runc}/runc.${arch}`,
      sha256: sha256('runc'),
      installs: [{ member: '', to: '/usr/local/bin/runc' }],
    },
    {
      name: 'CNI plugins',
      url: `https://github.com/containernetworking/plugins/releases/download/${versions.cniPlugins}/cni-plugins-linux-${arch}-${versions.cniPlugins}.tgz`,
      sha256: sha256('cni-plugins'),
      installs: cniPlugins.map((name) => ({ member: `./${name}`, to: `/opt/cni/bin/${name}` })),
    },
  ];
}

export const downloadDir = '/var/lib/tracelab/downloads';

/**
 * Downloads a file and keeps it only when its SHA-256 is the pinned one: a mismatch removes the
 * download and fails with both digests, before anything is installed from it. A verified file
 * already in place is not downloaded again.
 */
export function fetchVerifiedCommand(url: string, sha256: string, file: string): string[] {
  const script = [
    'set -e; url=$1; want=$2; file=$3',
    'have() { sha256sum "$1" 2>/dev/null | cut -d" " -f1; }',
    '[ "$(have "$file")" = "$want" ] && exit 0',
    'mkdir -p "$(dirname "$file")"; rm -f "$file" "$file.part"',
    'curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --output "$file.part" "$url"',
    'got=$(have "$file.part")',
    'if [ "$got" != "$want" ]; then rm -f "$file.part"; echo "SHA-256 mismatch for $url: expected $want, got $got (a corrupted download, or the release was replaced): nothing was installed from it" >&2; exit 1; fi',
    'mv "$file.part" "$file"',
  ].join('; ');
  return ['sh', '-c', script, 'fetch-verified', url, sha256, file];
}

/** Installs the members of a verified download (extracted to a scratch directory first, then `install`ed). */
export function installFromDownloadCommand(download: PinnedDownload, file: string): string[] {
  const script = [
    'set -e; file=$1; shift; scratch=$(mktemp -d); trap \'rm -rf "$scratch"\' EXIT',
    'while [ $# -gt 0 ]; do member=$1; to=$2; shift 2',
    'if [ -z "$member" ]; then install -D -m 0755 "$file" "$to"; else tar -xzf "$file" -C "$scratch" "$member"; install -D -m 0755 "$scratch/$member" "$to"; fi',
    'done',
  ].join('; ');
  return ['sh', '-c', script, 'install-download', file, ...download.installs.flatMap(({ member, to }) => [member, to])];
}

/** The pkgs.k8s.io repository of one Kubernetes minor: `v1.37.2` → `…/core:/stable:/v1.37/deb/`. */
export function packageRepository(kubernetesVersion: string, family: PackageFamily): string {
  const minor = /^v?(\d+\.\d+)\./.exec(kubernetesVersion)?.[1];
  if (minor === undefined) throw new Error(`'${kubernetesVersion}' is not a Kubernetes version like v1.37.2`);
  return `https://pkgs.k8s.io/core:/stable:/v${minor}/${family}/`;
}

/** apt-get unattended: no questions, and a wait for the lock a boot-time unattended-upgrades holds. */
const apt = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-o', 'DPkg::Lock::Timeout=300', '-o', 'Dpkg::Options::=--force-confold'];

export const kubernetesPackageNames = ['kubelet', 'kubeadm', 'kubectl'] as const;

export const aptKeyring = '/etc/apt/keyrings/tracelab-kubernetes.gpg';
export const aptSourceFile = '/etc/apt/sources.list.d/tracelab-kubernetes.list';
export const yumRepoFile = '/etc/yum.repos.d/tracelab-kubernetes.repo';

/** The pinned Kubernetes packages: repository set up, packages installed at the pinned version, held. */
export interface PackagePlan {
  readonly names: readonly string[];
  /** Files to write (the repository definition). */
  readonly files: readonly { readonly path: string; readonly content: string }[];
  /** Commands, in order. */
  readonly commands: readonly (readonly string[])[];
  /** Prints `name version` per installed package (exit non-zero when one is missing). */
  readonly query: readonly string[];
  readonly repositoryFiles: readonly string[];
}

export function kubernetesPackagePlan(kubernetesVersion: string, family: PackageFamily): PackagePlan {
  const repository = packageRepository(kubernetesVersion, family);
  const version = kubernetesVersion.replace(/^v/, '');
  if (family === 'deb') {
    return {
      names: kubernetesPackageNames,
      files: [{ path: aptSourceFile, content: `deb [signed-by=${aptKeyring}] ${repository} /\n` }],
      commands: [
        ['apt-get', 'update', '--quiet'],
        [...apt, 'install', '--yes', '--quiet', 'ca-certificates', 'curl', 'gpg'],
        ['sh', '-c', 'mkdir -p -m 0755 "$(dirname "$2")" && curl --fail --silent --show-error --location --retry 3 "$1" | gpg --dearmor --yes --output "$2" && chmod 0644 "$2"', 'add-key', `${repository}Release.key`, aptKeyring],
        ['apt-get', 'update', '--quiet'],
        [...apt, 'install', '--yes', '--quiet', '--allow-change-held-packages', ...kubernetesPackageNames.map((name) => `${name}=${version}-*`)],
        ['apt-mark', 'hold', ...kubernetesPackageNames],
      ],
      query: ['dpkg-query', '--show', '--showformat', '${Package} ${Version}\\n', ...kubernetesPackageNames],
      repositoryFiles: [aptSourceFile, aptKeyring],
    };
  }
  return {
    names: kubernetesPackageNames,
    files: [
      {
        path: yumRepoFile,
        content: ['[tracelab-kubernetes]', 'name=Kubernetes (tracelab)', `baseurl=${repository}`, 'enabled=1', 'gpgcheck=1', `gpgkey=${repository}repodata/repomd.xml.key`, 'exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni', ''].join('\n'),
      },
    ],
    commands: [['dnf', 'install', '--assumeyes', '--disableexcludes=tracelab-kubernetes', ...kubernetesPackageNames.map((name) => `${name}-${version}`)]],
    query: ['rpm', '--query', '--queryformat', '%{NAME} %{VERSION}\\n', ...kubernetesPackageNames],
    repositoryFiles: [yumRepoFile],
  };
}

/** Removes packages (held ones released first). */
export function removePackagesCommands(family: PackageFamily, packages: readonly string[]): string[][] {
  if (packages.length === 0) return [];
  if (family === 'deb') return [['apt-mark', 'unhold', ...packages], [...apt, 'purge', '--yes', '--quiet', ...packages]];
  return [['dnf', 'remove', '--assumeyes', ...packages]];
}

/** Whether `query`'s output shows every package at the pinned version. */
export function packagesAtVersion(queryOutput: string, kubernetesVersion: string): boolean {
  const version = kubernetesVersion.replace(/^v/, '');
  const installed = new Map(
    queryOutput
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/) as [string, string | undefined]),
  );
  return kubernetesPackageNames.every((name) => {
    const have = installed.get(name);
    return have === version || (have?.startsWith(`${version}-`) ?? false);
  });
}

/** What the online install fetches from, checked before anything changes on the host. */
export function onlineEndpoints(kubernetesVersion: string, family: PackageFamily): string[] {
  return [`${packageRepository(kubernetesVersion, family)}${family === 'deb' ? 'Release.key' : 'repodata/repomd.xml.key'}`, 'https://github.com/containerd/containerd/releases', 'https://registry.k8s.io/v2/'];
}
