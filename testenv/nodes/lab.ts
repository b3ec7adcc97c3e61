import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { isRunning } from '../processes.ts';
import {
  deleteLabRecord,
  deleteMachineRecord,
  labsDir,
  readLabRecords,
  readMachineRecord,
  removeLabDirectory,
  saveLabRecord,
  saveMachineRecord,
  startTicksOf,
  withLabsLock,
  type LabRecord,
  type MachineRecord,
} from './lab-state.ts';
import { PRIVATE_DIRECTORIES, removeEmptyTree } from './mounts.ts';
import { chooseSubnet, createBridge, deleteBridge } from './network.ts';
import { createNode, destroyNode, type NodeTeardown, type TestNode } from './node.ts';
import { formatPrefix, hostAddress } from './subnets.ts';
import { readGlobalSysctls, restoreSysctls } from './sysctls.ts';

/**
 * A lab: a private segment (bridge) on this machine and the test nodes on it. Everything it makes
 * is listed in its record (lab-state.ts) before it is made; destroy() removes exactly that, and
 * the last lab on the machine puts back what labs share (mount points, machine-wide sysctls).
 *
 *   const lab = await createLab({ purpose: 'network.test.ts' });
 *   try {
 *     const cp = await lab.addNode('cp');
 *     await cp.executor.run(['ip', 'route']);
 *   } finally {
 *     await lab.destroy();
 *   }
 */
export interface Lab {
  readonly id: string;
  readonly bridge: string;
  /** e.g. 10.251.0.0/24 */
  readonly subnet: string;
  /** The host's address on the segment. */
  readonly hostAddress: string;
  /** The lab's directory on the host, removed with it (for files tests make for the lab). */
  readonly dir: string;
  addNode(name: string): Promise<TestNode>;
  /** Tears one node down (the lab stays). */
  removeNode(name: string): Promise<NodeTeardown>;
  destroy(): Promise<LabTeardown>;
}

export interface LabOptions {
  /** What the lab is for (e.g. the test file), shown when a stale lab is cleaned up. */
  readonly purpose: string;
  /** The segment's /24. @default the first /24 of 10.251.0.0/16 that no host route overlaps */
  readonly subnet?: string;
}

export interface LabTeardown {
  readonly nodes: Readonly<Record<string, NodeTeardown>>;
  /**
   * "key: changed → restored" for each machine-wide sysctl put back. Only the last lab on the
   * machine restores; while others live, this is empty and they carry the same record.
   */
  readonly restoredSysctls: string[];
  /** Whether this was the last lab, which put the machine back. */
  readonly lastLab: boolean;
}

/** Makes a lab after cleaning up labs whose test process is gone. */
export async function createLab(options: LabOptions): Promise<Lab> {
  await cleanupStaleLabs();
  const id = randomBytes(3).toString('hex');
  const record = await withLabsLock(async () => {
    if (readMachineRecord() === undefined) saveMachineRecord(firstMachineRecord());
    const subnet = await chooseSubnet(options.subnet);
    const lab: LabRecord = {
      id,
      purpose: options.purpose,
      createdAt: new Date().toISOString(),
      owner: { pid: process.pid, startTicks: startTicksOf(process.pid) },
      bridge: `tlbr${id}`,
      subnet: formatPrefix(subnet),
      hostAddress: hostAddress(subnet, 1),
      dir: path.join(labsDir(), id),
      nodes: [],
    };
    saveLabRecord(lab);
    try {
      await createBridge(lab.bridge, lab.hostAddress, subnet.length);
    } catch (err) {
      await deleteBridge(lab.bridge);
      deleteLabRecord(id);
      throw new Error(`failed to create the lab segment ${lab.subnet} (bridge ${lab.bridge}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return lab;
  });
  const save = (): void => { saveLabRecord(record); };
  return {
    id,
    bridge: record.bridge,
    subnet: record.subnet,
    hostAddress: record.hostAddress,
    dir: record.dir,
    addNode: (name) => createNode(record, name, save),
    removeNode: async (name) => {
      const nodeRecord = record.nodes.find((n) => n.name === name);
      if (nodeRecord === undefined) throw new Error(`lab ${id} has no node named ${name}`);
      return destroyNode(record, nodeRecord, save);
    },
    destroy: () => destroyLab(record),
  };
}

/**
 * Tears down every lab whose owning process no longer runs (a test that crashed or was killed).
 * Returns the ids it removed.
 */
export async function cleanupStaleLabs(): Promise<string[]> {
  const stale = readLabRecords().filter((r) => !isRunning(r.owner));
  for (const record of stale) await destroyLab(record);
  return stale.map((r) => r.id);
}

async function destroyLab(record: LabRecord): Promise<LabTeardown> {
  const save = (): void => { saveLabRecord(record); };
  const nodes: Record<string, NodeTeardown> = {};
  for (const node of [...record.nodes].reverse()) nodes[node.name] = await destroyNode(record, node, save);
  await deleteBridge(record.bridge);
  return withLabsLock(async () => {
    foldLegacyRecord(record);
    removeLabDirectory(record.dir);
    deleteLabRecord(record.id);
    if (readLabRecords().length > 0) return { nodes, restoredSysctls: [], lastLab: false };
    const machine = readMachineRecord();
    const restoredSysctls = machine === undefined ? [] : await restoreMachine(machine);
    deleteMachineRecord();
    return { nodes, restoredSysctls, lastLab: true };
  });
}

function firstMachineRecord(): MachineRecord {
  // labs made by an earlier version of this file kept the machine's state in their own record
  const legacy = readLabRecords()
    .map((r) => r as LabRecord & Partial<MachineRecord>)
    .filter((r) => r.sysctls !== undefined)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  return {
    sysctls: legacy[0]?.sysctls ?? readGlobalSysctls(),
    createdRunNetns: legacy.some((r) => r.createdRunNetns === true) || !existsSync('/run/netns'),
    createdMountpoints: [...new Set(legacy.flatMap((r) => r.createdMountpoints ?? []))],
  };
}

function foldLegacyRecord(record: LabRecord): void {
  const legacy = record as LabRecord & Partial<MachineRecord>;
  if (legacy.createdMountpoints === undefined) return;
  const machine = readMachineRecord() ?? firstMachineRecord();
  machine.createdMountpoints = [...new Set([...machine.createdMountpoints, ...legacy.createdMountpoints])];
  saveMachineRecord(machine);
}

/** Puts back what the labs changed on the machine: mount points, /run/netns, sysctls. */
async function restoreMachine(machine: MachineRecord): Promise<string[]> {
  for (const dir of [...machine.createdMountpoints].reverse()) {
    if (PRIVATE_DIRECTORIES.some((p) => p === dir || p.startsWith(`${dir}/`))) removeEmptyTree(dir);
  }
  if (machine.createdRunNetns && existsSync('/run/netns') && readdirSync('/run/netns').length === 0) {
    // `ip netns add` made /run/netns a bind mount of itself
    await $({ quiet: true, nothrow: true })`umount /run/netns`;
    removeEmptyTree('/run/netns');
  }
  return restoreSysctls(machine.sysctls);
}
