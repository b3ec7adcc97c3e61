import { basename } from 'node:path';
import { archOf, downloadDir, fetchVerifiedCommand, installFromDownloadCommand, kubernetesPackagePlan, packageFamily, packagesAtVersion, releaseDownloads, removePackagesCommands, type PackageFamily } from './artifacts/online.ts';
import { fileDigests, type HostAccess } from './host-access.ts';
import type { HostFacts } from './host-facts.ts';
import { readVersions } from './versions.ts';

/** What the online install did on a host, for re-runs and for `tracelab reset`. */
export interface OnlineRecord {
  readonly family: PackageFamily;
  /** Archive URL → its pinned SHA-256. */
  readonly archives: Readonly<Record<string, string>>;
  /** Packages that were not on the host before: the only ones reset removes. */
  readonly packagesAdded: readonly string[];
  readonly repositoryFiles: readonly string[];
}

export const onlineRecord = '/var/lib/tracelab/online.json';

/** Packages the Kubernetes ones may bring along (kubeadm needs cri-tools). */
const companionPackages = ['cri-tools', 'kubernetes-cni'];

function plan(facts: HostFacts, kubernetesVersion: string) {
  const family = packageFamily(facts.os);
  const downloads = releaseDownloads(readVersions(), archOf(facts.machine));
  return { family, downloads, packages: kubernetesPackagePlan(kubernetesVersion, family) };
}

export async function readOnlineRecord(host: HostAccess): Promise<OnlineRecord | undefined> {
  const text = await host.read(onlineRecord);
  return text === undefined ? undefined : (JSON.parse(text) as OnlineRecord);
}

/** Packages at the pinned version, and the archives this record names still installed unchanged. */
export async function onlineInstallDone(host: HostAccess, facts: HostFacts, kubernetesVersion: string, installedFiles: Readonly<Record<string, string>>): Promise<boolean> {
  const { downloads, packages } = plan(facts, kubernetesVersion);
  const record = await readOnlineRecord(host);
  if (record === undefined || downloads.some((download) => record.archives[download.url] !== download.sha256)) return false;
  const query = await host.probe(packages.query);
  if (query.exitCode !== 0 || !packagesAtVersion(query.stdout, kubernetesVersion)) return false;
  const paths = Object.keys(installedFiles);
  const digests = await fileDigests(host, paths);
  return paths.length > 0 && digests !== undefined && paths.every((path) => digests.get(path) === installedFiles[path]);
}

/**
 * kubelet, kubeadm and kubectl from pkgs.k8s.io at the pinned version, held; then containerd, runc
 * and the CNI plugins from their release archives, each verified against its pinned SHA-256
 * before anything is taken from it. Returns the installed files with their digests.
 */
export async function installOnline(host: HostAccess, facts: HostFacts, kubernetesVersion: string, dryRun: boolean): Promise<Record<string, string>> {
  const { family, downloads, packages } = plan(facts, kubernetesVersion);
  const earlier = await readOnlineRecord(host);
  const absentBefore: string[] = [];
  for (const name of [...packages.names, ...companionPackages]) {
    const installed = await host.probe(family === 'deb' ? ['dpkg-query', '--show', name] : ['rpm', '--query', name]);
    if (installed.exitCode !== 0) absentBefore.push(name);
  }
  const packagesAdded = earlier?.packagesAdded ?? absentBefore;
  const record: OnlineRecord = { family, archives: Object.fromEntries(downloads.map((d) => [d.url, d.sha256])), packagesAdded, repositoryFiles: packages.repositoryFiles };
  // Written before the first change: a run stopped half-way still tells reset what it added.
  await host.write(onlineRecord, `${JSON.stringify(record, null, 2)}\n`, 0o600);

  for (const file of packages.files) await host.write(file.path, file.content);
  for (const command of packages.commands) await host.change(command);
  for (const download of downloads) {
    const file = `${downloadDir}/${basename(download.url)}`;
    await host.change(fetchVerifiedCommand(download.url, download.sha256, file));
    await host.change(installFromDownloadCommand(download, file));
  }

  const paths = downloads.flatMap((download) => download.installs.map(({ to }) => to));
  return dryRun ? {} : Object.fromEntries((await fileDigests(host, paths)) ?? []);
}

/** What reset runs to take the online install away: the packages it added, its repository, its downloads. */
export function removeOnlineInstallCommands(record: OnlineRecord): string[][] {
  return [...removePackagesCommands(record.family, record.packagesAdded), ['rm', '-rf', '--', ...record.repositoryFiles, downloadDir]];
}
