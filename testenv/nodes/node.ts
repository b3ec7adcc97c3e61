import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import type { Executor } from '../../bootstrap/executors/executor.ts';
import { waitFor, StopWaiting } from '../components.ts';
import { startProcess, stopRecorded, type ManagedProcess } from '../processes.ts';
import { createNodeCgroups, removeNodeCgroups } from './cgroups.ts';
import { readMachineRecord, removeLabDirectory, saveMachineRecord, withLabsLock, type LabRecord, type NodeRecord } from './lab-state.ts';
import { bindPrivateDirectories, ensureMountpoints, hostPathOf, mountsUnder, PRIVATE_DIRECTORIES } from './mounts.ts';
import { attachNode, detachNode, netnsPath } from './network.ts';
import { enterNode, nodeEnvironment, nodeExecutor } from './node-executor.ts';
import { endProcessesOfNode, namespaceOf, type FoundProcess } from './node-processes.ts';
import { hostAddress, parsePrefix } from './subnets.ts';

/**
 * One test node: its own network namespace on the lab segment, and a mount (and UTS) namespace
 * cut off from the host's mount propagation (shared only within the node, like a host's /) in
 * which PRIVATE_DIRECTORIES are its own. A holder process keeps those
 * namespaces open; every command enters them with nsenter.
 */
export interface TestNode {
  readonly name: string;
  /** The node's address on the lab segment. */
  readonly address: string;
  /** Its named network namespace, e.g. /run/netns/tracelab-1a2b3c-cp */
  readonly netns: string;
  /** Per-node directory on the host (private directories, logs). */
  readonly dir: string;
  /** For kubelet --cgroup-root: made in every hierarchy with the node, removed with it. */
  readonly cgroupRoot: string;
  /** Runs commands inside the node (the product's Executor interface). */
  readonly executor: Executor;
  /** Where a path inside one of the node's private directories is on the host, e.g. for logs. */
  hostPath(nodePath: string): string;
  /** Starts a long-running process inside the node (output in <dir>/logs/<name>.log); ended at teardown. */
  start(options: NodeProcessOptions): ManagedProcess;
}

export interface NodeProcessOptions {
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** What a node's teardown ended and removed, for the test's checks and messages. */
export interface NodeTeardown {
  readonly processes: FoundProcess[];
  readonly cgroups: string[];
}

const NODE_NAME = /^[a-z][a-z0-9-]{0,19}$/;
/** Node n (from 0) gets host number FIRST_NODE_HOST + n on the segment; the host has 1. */
const FIRST_NODE_HOST = 10;

const sh = $({ quiet: true });

/** Makes a node in the lab; `save` persists the lab record (called before each thing is made). */
export async function createNode(lab: LabRecord, name: string, save: () => void): Promise<TestNode> {
  if (!NODE_NAME.test(name)) throw new Error(`'${name}' is not a valid node name: lowercase letters, digits and '-', up to 20`);
  if (lab.nodes.some((n) => n.name === name)) throw new Error(`lab ${lab.id} already has a node named ${name}`);
  const index = lab.nodes.reduce((max, n) => Math.max(max, nodeIndex(lab, n) + 1), 0);
  const subnet = parsePrefix(lab.subnet);
  const record: NodeRecord = {
    name,
    netns: `tracelab-${lab.id}-${name}`,
    hostVeth: `tlv${lab.id}${index}`,
    address: hostAddress(subnet, FIRST_NODE_HOST + index),
    dir: path.join(lab.dir, name),
    processes: [],
  };
  lab.nodes.push(record);
  save();
  try {
    await attachNode(lab.bridge, record, subnet.length);
    mkdirSync(path.join(record.dir, 'logs'), { recursive: true });
    const holder = startProcess({
      name: `${name}-holder`,
      command: 'nsenter',
      // Private first (nothing propagates to or from the host), then shared inside the node only, as
      // on a real host: containerd refuses HostToContainer mounts (node-exporter's /) from a private /.
      args: [`--net=${netnsPath(record.netns)}`, '--', 'unshare', '--mount', '--uts', '--propagation', 'private', '--', 'sh', '-c', 'mount --make-rshared / && exec sleep infinity'],
      logFile: path.join(record.dir, 'logs', 'holder.log'),
    });
    record.holder = holder.record();
    save();
    const hostMountNamespace = namespaceOf(process.pid, 'mnt');
    record.mountNamespace = await waitFor(`the namespaces of node ${name}`, () => {
      const status = holder.exitStatus();
      if (status !== undefined) throw new StopWaiting(`its holder process ${status}: ${holder.logTail(5)}`);
      const mount = namespaceOf(holder.pid, 'mnt');
      return mount !== hostMountNamespace ? mount : undefined;
    }, { deadlineMs: 10_000, intervalMs: 10 });
    record.networkNamespace = namespaceOf(holder.pid, 'net');
    save();
    await withLabsLock(() => {
      const machine = readMachineRecord();
      if (machine === undefined) throw new Error(`the machine record of the labs is missing (${lab.id} was not made by createLab?)`);
      machine.createdMountpoints.push(...ensureMountpoints(PRIVATE_DIRECTORIES));
      saveMachineRecord(machine);
    });
    createNodeCgroups(cgroupRootOf(lab, record));
    await bindPrivateDirectories(holder.pid, record.dir);
    await sh`nsenter --target ${String(holder.pid)} --uts -- hostname ${name}`;
    return liveNode(lab, record, holder.pid, save);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await destroyNode(lab, record, save).catch(() => undefined);
    throw new Error(`failed to create node ${name} of lab ${lab.id}: ${reason}`, { cause: err });
  }
}

/**
 * Ends every process of the node (recorded or found in its namespaces, with descendants), which
 * also drops its mount namespace and every mount in it, removes its cgroup, veth pair, network
 * namespace and directory, and takes it off the lab record. Works from a record alone (stale labs).
 */
export async function destroyNode(lab: LabRecord, record: NodeRecord, save: () => void): Promise<NodeTeardown> {
  const network = record.networkNamespace ?? networkNamespaceOfPath(record.netns);
  const processes = await endProcessesOfNode({ mount: record.mountNamespace, network });
  for (const p of [...record.processes, ...(record.holder === undefined ? [] : [record.holder])]) await stopRecorded(p, 1_000);
  const cgroups = removeNodeCgroups(cgroupRootOf(lab, record));
  await detachNode(record);
  const leftMounts = mountsUnder(record.dir);
  if (leftMounts.length > 0) {
    throw new Error(`node ${record.name}: mounts are left under ${record.dir} (${leftMounts.join(', ')}): not deleting it; unmount them and run the teardown again`);
  }
  removeLabDirectory(record.dir);
  lab.nodes = lab.nodes.filter((n) => n.name !== record.name);
  save();
  return { processes, cgroups };
}

function liveNode(lab: LabRecord, record: NodeRecord, holderPid: number, save: () => void): TestNode {
  return {
    name: record.name,
    address: record.address,
    netns: netnsPath(record.netns),
    dir: record.dir,
    cgroupRoot: cgroupRootOf(lab, record),
    executor: nodeExecutor(record.name, holderPid),
    hostPath: (nodePath) => {
      const privateDir = PRIVATE_DIRECTORIES.find((dir) => nodePath === dir || nodePath.startsWith(`${dir}/`));
      if (privateDir === undefined) throw new Error(`${nodePath} is not in a private directory of node ${record.name} (${PRIVATE_DIRECTORIES.join(', ')})`);
      return hostPathOf(record.dir, nodePath);
    },
    start: (options) => {
      const [nsenter = 'nsenter', ...enter] = enterNode(holderPid);
      const managed = startProcess({
        name: `${record.name}-${options.name}`,
        command: nsenter,
        args: [...enter, ...nodeEnvironment(options.env), options.command, ...(options.args ?? [])],
        logFile: path.join(record.dir, 'logs', `${options.name}.log`),
      });
      record.processes.push(managed.record());
      save();
      return managed;
    },
  };
}

function cgroupRootOf(lab: LabRecord, record: NodeRecord): string {
  return `/tracelab-${lab.id}-${record.name}`;
}

function nodeIndex(lab: LabRecord, record: NodeRecord): number {
  return Number(record.hostVeth.slice(`tlv${lab.id}`.length));
}

function networkNamespaceOfPath(netns: string): string | undefined {
  try {
    return `net:[${statSync(netnsPath(netns)).ino}]`;
  } catch {
    return undefined;
  }
}
