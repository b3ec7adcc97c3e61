import { dirname } from 'node:path';
import { UserError } from '../core/errors.ts';
import type { Output } from '../core/output.ts';
import { modulesFile, sysctlFile } from './host-prep.ts';
import type { HostAccess } from './host-access.ts';
import { containerdSocket } from './kubeadm-config.ts';
import { logDir, runDir, stopServiceCommand } from './services.ts';
import { flannelConflistFile } from './cni/flannel.ts';
import { cniConfigFile } from './steps/cni.ts';
import { hostPrepRecord } from './steps/host-prep.ts';
import { installedRecord } from './steps/install-binaries.ts';
import { onlineRecord, readOnlineRecord, removeOnlineInstallCommands } from './install-online.ts';
import { kubeadmConfigFile } from './steps/kubeadm-init.ts';
import { kubeadmJoinConfigFile, kubeletCgroupRootFile } from './steps/kubeadm-join.ts';
import { containerdConfigPath, labRegistryHostsFile, registryHostsDir } from './containerd-config.ts';

/** A reset action: what it undoes, and the commands (each tolerates finding nothing to undo). */
interface ResetAction {
  readonly title: string;
  commands(host: HostAccess): Promise<string[][]>;
}

const sh = (script: string, ...args: string[]): string[] => ['sh', '-c', script, 'tracelab-reset', ...args];

/**
 * Removes files and directories; a directory that is a mount point (a test node's private
 * directory) is emptied and left, anything else removed whole.
 */
const removePaths = (...paths: string[]): string[] =>
  sh('for p in "$@"; do if [ -d "$p" ] && ! [ -L "$p" ]; then rm -rf -- "$p"/* "$p"/.[!.]* "$p"/..?* 2>/dev/null; rmdir -- "$p" 2>/dev/null; else rm -f -- "$p"; fi; done; true', ...paths);

/** Stops a service for good: its systemd unit disabled and removed, or its supervisor loop stopped. */
function removeService(name: string): string[] {
  return sh(
    'if command -v systemctl >/dev/null && [ -f "/etc/systemd/system/$1.service" ]; then systemctl disable --now "$1"; rm -f "/etc/systemd/system/$1.service"; systemctl daemon-reload; fi; true',
    name,
  );
}

const actions: readonly ResetAction[] = [
  {
    title: 'Remove the pods and the cluster (kubeadm reset)',
    commands: () =>
      Promise.resolve([
        // The kubelet first, or it starts the pods again; then the pods (their network torn down
        // by the CNI plugins), else kubeadm reset stops at their mounts.
        stopServiceCommand('kubelet'),
        removeService('kubelet'),
        sh(`[ -S /run/containerd/containerd.sock ] && command -v crictl >/dev/null && crictl --runtime-endpoint ${containerdSocket} rmp --all --force; true`),
        sh(`command -v kubeadm >/dev/null && [ -d /etc/kubernetes ] && kubeadm reset --force --cri-socket ${containerdSocket}; true`),
      ]),
  },
  {
    title: 'Stop the kubelet and containerd',
    async commands(host) {
      const before = JSON.parse((await host.read(hostPrepRecord)) ?? '{}') as { kubeletMountIds?: string[] };
      return [
        // Shims outlive containerd: only this host's (its mount namespace), never another node's on the same machine.
        sh('for p in $(pgrep -x containerd-shim); do [ "$(readlink /proc/$p/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] && kill -9 $p; done; true'),
        stopServiceCommand('containerd'),
        removeService('containerd'),
        // The pods' mounts; when /var/lib/kubelet is itself a bind of another directory, they show under that one too.
        sh(
          'src=$(awk \'$5 == "/var/lib/kubelet" {print $4; exit}\' /proc/self/mountinfo); case "$src" in ""|/|/var/lib/kubelet) src=/nonexistent ;; esac; ' +
            'for m in $(awk -v s="$src/" \'index($5, "/run/containerd/") == 1 || index($5, "/var/lib/containerd/") == 1 || index($5, "/var/lib/kubelet/") == 1 || index($5, s) == 1 {print $5}\' /proc/self/mountinfo | sort -r); do umount -l "$m"; done; true',
        ),
        // The pods' cgroups (and the --kubelet-cgroup-root bootstrap made), deepest first; they are empty once the pods are gone.
        sh('root=$(sed -n "s/^cgroupRoot: *//p" "$1" "$2" 2>/dev/null | head -n 1); for h in /sys/fs/cgroup/*/; do for d in "$h${root#/}/kubepods" "$h${root#/}/kubepods.slice"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \\; 2>/dev/null; done; [ -n "${root#/}" ] && rmdir "$h${root#/}" 2>/dev/null; done; true', kubeadmConfigFile, kubeletCgroupRootFile),
        // Only the mounts on /var/lib/kubelet that were not there before bootstrap (by mount id), topmost first;
        // without a record (reset already ran, or bootstrap never did) none.
        ...(before.kubeletMountIds === undefined
          ? []
          : [
              sh(
                'while top=$(awk \'$5 == "/var/lib/kubelet" {id = $1} END {print id}\' /proc/self/mountinfo); [ -n "$top" ] && ! echo " $* " | grep -q " $top "; do umount -l /var/lib/kubelet || break; done; true',
                ...before.kubeletMountIds,
              ),
            ]),
      ];
    },
  },
  {
    title: 'Remove the pod network and kube-proxy rules',
    commands: () =>
      Promise.resolve([
        // The bridge's or Flannel's: its conflist, the plugin its pods installed, its lease and links.
        removePaths(cniConfigFile, flannelConflistFile, '/opt/cni/bin/flannel', '/run/flannel', '/var/lib/cni'),
        sh('for l in cni0 flannel.1; do ip link show $l >/dev/null 2>&1 && ip link delete $l; done; true'),
        sh('for t in iptables ip6tables; do command -v $t-save >/dev/null || continue; $t-save | grep -v -e KUBE- -e CNI- -e FLANNEL- | $t-restore; done; true'),
      ]),
  },
  {
    title: 'Remove what bootstrap installed and wrote',
    async commands(host) {
      const installed = JSON.parse((await host.read(installedRecord)) ?? '{}') as Record<string, string>;
      // A binary someone replaced since is left alone.
      const binaries = Object.entries(installed).map(([path, digest]) => sh('[ "$(sha256sum "$1" 2>/dev/null | cut -d" " -f1)" = "$2" ] && rm -f "$1"; true', path, digest));
      const online = await readOnlineRecord(host);
      return [
        ...binaries,
        ...(online === undefined ? [] : removeOnlineInstallCommands(online)),
        removePaths(containerdConfigPath, dirname(labRegistryHostsFile), '/var/lib/containerd', '/run/containerd', '/etc/kubernetes', '/var/lib/kubelet', '/var/lib/etcd', kubeadmConfigFile, kubeadmJoinConfigFile, kubeletCgroupRootFile, logDir),
        sh(`rmdir ${registryHostsDir} /etc/tracelab /etc/containerd 2>/dev/null; true`),
      ];
    },
  },
  {
    title: 'Put back the host settings (sysctls, swap)',
    async commands(host) {
      const before = JSON.parse((await host.read(hostPrepRecord)) ?? '{}') as { sysctls?: Record<string, string>; swap?: string[] };
      const sysctls = Object.entries(before.sysctls ?? {})
        .filter(([, value]) => value !== '')
        .map(([key, value]) => ['sysctl', '-q', '-w', `${key}=${value}`]);
      return [
        removePaths(modulesFile, sysctlFile),
        ...sysctls,
        sh('[ -f /etc/fstab ] && grep -q "^#tracelab-swap-off# " /etc/fstab && sed -i "s@^#tracelab-swap-off# @@" /etc/fstab && swapon -a; true'),
        removePaths(runDir, hostPrepRecord, installedRecord, onlineRecord, '/var/lib/tracelab'),
      ];
    },
  },
];

/**
 * `tracelab reset`: the host back to how it was before bootstrap — no cluster, no services, no
 * pod network or kube-proxy rules, none of the files bootstrap wrote or installed, the sysctls and
 * swap as they were. Asks first (or --yes); a dry run prints the commands.
 */
export async function resetHost(host: HostAccess, options: { dryRun: boolean; output: Output; confirm: ((question: string) => Promise<boolean>) | undefined }): Promise<void> {
  if (!options.dryRun) {
    const agreed = options.confirm !== undefined && (await options.confirm(`Reset ${host.name}: delete its Kubernetes cluster, the pods and their data, and what tracelab installed?`));
    if (!agreed) throw new UserError(`tracelab reset deletes the cluster on ${host.name} and everything in it — pass --yes to confirm (nothing was changed)`);
  }
  for (const action of actions) {
    await options.output.step(`${host.name}: ${action.title}`, async () => {
      for (const command of await action.commands(host)) await host.change(command);
    });
  }
}
