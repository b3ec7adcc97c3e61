import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';

/**
 * Directories a node keeps to itself: bind-mounted from its own directory in its mount namespace,
 * so what kubeadm, kubelet, containerd and the CNI plugins write there stays in the node.
 * Everything else of the filesystem is the host's, shared: install nothing outside these.
 */
export const PRIVATE_DIRECTORIES = [
  '/etc/kubernetes',
  '/var/lib/kubelet',
  '/run/containerd',
  '/var/lib/containerd',
  '/etc/containerd',
  '/etc/cni/net.d',
  '/var/lib/cni',
  '/var/log/pods',
  '/var/log/containers',
  '/opt/cni/bin',
  '/etc/tracelab',
  '/var/lib/tracelab',
  // Flannel's lease of the node's pod subnet (subnet.env), which its CNI plugin reads
  '/run/flannel',
  // kubeadm's local etcd keeps its data here
  '/var/lib/etcd',
  // the node's binaries (kubelet, kubeadm, containerd, …) go here, not into the host's
  '/usr/local/bin',
  // a kubeconfig for the node's user must not touch the host user's
  '/root/.kube',
  // unit files a bootstrap writes (test nodes have no systemd to read them)
  '/etc/systemd/system',
  // host preparation writes modules-load and sysctl files: they must not reach the host's boot
  '/etc/modules-load.d',
  '/etc/sysctl.d',
  // pod network namespaces (containerd's CNI setup) stay out of the host's `ip netns`
  '/run/netns',
  // sshd's privilege separation directory: made for the node, not left on the host
  '/run/sshd',
  // the mesh's CNI agent: its socket, the kubeconfig it writes for its plugin, the plugin's log
  '/run/istio-cni',
] as const;

const sh = $({ quiet: true });

/** Where a private directory of the node lives on the host. */
export function hostPathOf(nodeDir: string, privateDir: string): string {
  return path.join(nodeDir, 'root', privateDir);
}

/**
 * Creates the mount points the host lacks (an empty directory on the host, which the node covers
 * with its own); returns the topmost directory created for each, to remove at teardown.
 */
export function ensureMountpoints(dirs: readonly string[]): string[] {
  const created: string[] = [];
  for (const dir of dirs) {
    if (existsSync(dir)) continue;
    let topmost = dir;
    while (!existsSync(path.dirname(topmost))) topmost = path.dirname(topmost);
    mkdirSync(dir, { recursive: true });
    created.push(topmost);
  }
  return created;
}

/** Bind-mounts every private directory from the node's directory, inside the holder's mount namespace. */
export async function bindPrivateDirectories(holderPid: number, nodeDir: string): Promise<void> {
  for (const dir of PRIVATE_DIRECTORIES) {
    const source = hostPathOf(nodeDir, dir);
    mkdirSync(source, { recursive: true });
    await sh`nsenter --target ${String(holderPid)} --mount -- mount --bind ${source} ${dir}`;
    // A peer group of its own, shared (the kubelet needs that): what is mounted under it (pod
    // volumes) does not show up again under its source directory, as it would not on a real host.
    await sh`nsenter --target ${String(holderPid)} --mount -- sh -c ${'mount --make-private "$1" && mount --make-shared "$1"'} make-own-peer-group ${dir}`;
  }
}

/** Mount points at or under `dir` in the host's mount namespace (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((target) => target === dir || target.startsWith(prefix));
}

/**
 * Removes a directory tree made only of empty directories (the mount points created above);
 * leaves it, and returns false, when anything else is inside.
 */
export function removeEmptyTree(dir: string): boolean {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    return true;
  }
  if (!stat.isDirectory() || mountsUnder(dir).length > 0) return false;
  let empty = true;
  for (const entry of readdirSync(dir)) empty = removeEmptyTree(path.join(dir, entry)) && empty;
  if (!empty) return false;
  rmdirSync(dir);
  return true;
}

function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
