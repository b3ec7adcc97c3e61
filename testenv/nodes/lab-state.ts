import { mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheDir } from '../components.ts';
import { isRunning, type ProcessRecord } from '../processes.ts';

/**
 * What a lab made on this machine, written before each thing is made so that a test that crashed
 * can be cleaned up by the next run (cleanupStaleLabs). Teardown removes exactly what is listed.
 */
export interface LabRecord {
  readonly id: string;
  /** What the lab is for (the test's name), for messages. */
  readonly purpose: string;
  /** ISO time; stale labs are removed newest first. */
  readonly createdAt: string;
  /** The Node process that made it; when it no longer runs, the lab is stale. */
  readonly owner: Pick<ProcessRecord, 'pid' | 'startTicks'>;
  readonly bridge: string;
  /** e.g. 10.251.0.0/24 */
  readonly subnet: string;
  /** The host's address on the segment, e.g. 10.251.0.1 */
  readonly hostAddress: string;
  /** Per-node directories live under here. */
  readonly dir: string;
  nodes: NodeRecord[];
}

/**
 * What the labs changed on the machine as a whole, shared by every lab alive at the same time and
 * put back by the last one to go: removing a mount point while another lab's nodes have mounts on
 * it would detach those mounts (Linux lets rmdir reach into other mount namespaces), and a
 * sysctl snapshot taken while another lab's kubelet runs would record the kubelet's values.
 */
export interface MachineRecord {
  /** Machine-wide sysctls before the first lab; restored by the last. */
  readonly sysctls: Record<string, string>;
  /** `ip netns add` made /run/netns (a bind mount of itself). */
  createdRunNetns: boolean;
  /** Mount points the nodes needed that the host lacked (empty directories on the host). */
  createdMountpoints: string[];
}

export interface NodeRecord {
  readonly name: string;
  /** Named network namespace: /run/netns/<netns> */
  readonly netns: string;
  /** The host end of the node's veth pair, a port of the lab bridge. */
  readonly hostVeth: string;
  /** The node's address on the segment. */
  readonly address: string;
  /** Per-node root of the private directories. */
  readonly dir: string;
  /** The process holding the node's mount and UTS namespaces open. */
  holder?: ProcessRecord;
  /** e.g. "mnt:[4026532201]": identifies the node's processes after the holder is gone. */
  mountNamespace?: string;
  /** e.g. "net:[4026532199]" */
  networkNamespace?: string;
  /** Long-running processes started in the node through Node.start(). */
  processes: ProcessRecord[];
}

export function labsDir(): string {
  return path.join(cacheDir(), 'labs');
}

export function labRecordFile(id: string): string {
  return path.join(labsDir(), `${id}.json`);
}

/** Deletes a lab's directory, refusing any path outside labsDir() (a record is only a file someone could edit). */
export function removeLabDirectory(dir: string): void {
  const relative = path.relative(labsDir(), path.resolve(dir));
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new Error(`refusing to delete ${dir}: lab directories live under ${labsDir()}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

function machineRecordFile(): string {
  return path.join(labsDir(), 'machine.state');
}

export function readMachineRecord(): MachineRecord | undefined {
  try {
    return JSON.parse(readFileSync(machineRecordFile(), 'utf8')) as MachineRecord;
  } catch {
    return undefined;
  }
}

export function saveMachineRecord(record: MachineRecord): void {
  writeJson(machineRecordFile(), record);
}

export function deleteMachineRecord(): void {
  rmSync(machineRecordFile(), { force: true });
}

/**
 * Runs fn while holding the labs lock (a directory: atomic to create), so that labs made and torn
 * down by several test processes at once agree on the machine record. A lock whose holder is gone
 * is taken over.
 */
export async function withLabsLock<T>(fn: () => Promise<T> | T): Promise<T> {
  const lock = path.join(labsDir(), '.lock');
  const owner = path.join(lock, 'owner.json');
  mkdirSync(labsDir(), { recursive: true });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(owner, JSON.stringify({ pid: process.pid, startTicks: startTicksOf(process.pid) }));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: Pick<ProcessRecord, 'pid' | 'startTicks'> | undefined;
      try {
        holder = JSON.parse(readFileSync(owner, 'utf8')) as Pick<ProcessRecord, 'pid' | 'startTicks'>;
      } catch {
        // being written, or its holder died before writing it: judged on the next round
      }
      if (holder !== undefined && !isRunning(holder)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`the labs lock ${lock} is held by ${JSON.stringify(holder)} for over 60 s`, { cause: err });
      await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(owner, { force: true });
    rmdirSync(lock);
  }
}

export function startTicksOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

export function saveLabRecord(record: LabRecord): void {
  writeJson(labRecordFile(record.id), record);
}

function writeJson(file: string, content: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(content, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function deleteLabRecord(id: string): void {
  rmSync(labRecordFile(id), { force: true });
}

/** Every lab record on this machine (of this and of earlier runs). */
export function readLabRecords(): LabRecord[] {
  let names: string[];
  try {
    names = readdirSync(labsDir());
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(path.join(labsDir(), name), 'utf8')) as LabRecord);
}
