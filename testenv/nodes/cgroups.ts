import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const CGROUP_MOUNT = '/sys/fs/cgroup';

/**
 * Makes a node's cgroup root in every hierarchy (kubelet refuses a --cgroup-root with a missing
 * path). On cgroup v1 a new cpuset starts with no CPUs and memory nodes: it gets its parent's.
 */
export function createNodeCgroups(cgroupRoot: string): void {
  requireNodeCgroupRoot(cgroupRoot);
  for (const hierarchy of hierarchies()) {
    const dir = path.join(hierarchy, cgroupRoot);
    mkdirSync(dir, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = path.join(path.dirname(dir), file);
      if (existsSync(parent) && readFileSync(path.join(dir, file), 'utf8').trim() === '') {
        writeFileSync(path.join(dir, file), readFileSync(parent, 'utf8').trim());
      }
    }
  }
}

/**
 * Removes a node's cgroup (kubelet --cgroup-root, containerd's pods under it) from every hierarchy
 * once its processes are gone: cgroups are machine-wide and outlive the node's namespaces.
 * Returns the directories it removed.
 */
export function removeNodeCgroups(cgroupRoot: string): string[] {
  requireNodeCgroupRoot(cgroupRoot);
  const removed: string[] = [];
  for (const hierarchy of hierarchies()) removeTree(path.join(hierarchy, cgroupRoot), removed);
  return removed;
}

function requireNodeCgroupRoot(cgroupRoot: string): void {
  if (!/^\/tracelab-[a-z0-9-]+$/.test(cgroupRoot)) throw new Error(`'${cgroupRoot}' is not a test node's cgroup root (/tracelab-…)`);
}

/** The mounted hierarchies: /sys/fs/cgroup itself on cgroup v2, its directories (not the symlinks) on v1. */
function hierarchies(): string[] {
  if (existsSync(path.join(CGROUP_MOUNT, 'cgroup.controllers'))) return [CGROUP_MOUNT];
  try {
    return readdirSync(CGROUP_MOUNT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join(CGROUP_MOUNT, entry.name));
  } catch {
    return [];
  }
}

function removeTree(dir: string, removed: string[]): void {
  try {
    if (!statSync(dir).isDirectory()) return;
  } catch {
    return;
  }
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(path.join(dir, entry.name), removed);
  }
  rmdirWhenEmpty(dir);
  removed.push(dir);
}

/** A cgroup is busy until the kernel has reaped its last process, a moment after the kill: retry for up to 10 s. */
function rmdirWhenEmpty(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt >= 100) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}
