import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning } from '../processes.ts';

/** A process found on the machine, identified by pid and start time (guards against pid reuse). */
export interface FoundProcess {
  readonly pid: number;
  readonly startTicks: string;
  readonly command: string;
}

export interface NodeNamespaces {
  /** e.g. "mnt:[4026532201]" */
  readonly mount?: string;
  /** e.g. "net:[4026532199]" */
  readonly network?: string;
}

/** The namespace a process is in, e.g. namespaceOf(pid, 'mnt') → "mnt:[4026532201]". */
export function namespaceOf(pid: number, kind: 'mnt' | 'net' | 'uts'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

/**
 * Every process of a node: those in its mount or network namespace, and all their descendants
 * (a pod's containers have namespaces of their own but descend from a shim inside the node).
 */
export function processesOfNode(namespaces: NodeNamespaces): FoundProcess[] {
  const all = listProcesses();
  const children = new Map<number, ProcessEntry[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const found = new Map<number, ProcessEntry>();
  const visit = (p: ProcessEntry): void => {
    if (found.has(p.pid) || p.pid === process.pid) return;
    found.set(p.pid, p);
    for (const child of children.get(p.pid) ?? []) visit(child);
  };
  for (const p of all) {
    const inMount = namespaces.mount !== undefined && namespaceOf(p.pid, 'mnt') === namespaces.mount;
    const inNetwork = namespaces.network !== undefined && namespaceOf(p.pid, 'net') === namespaces.network;
    if (inMount || inNetwork) visit(p);
  }
  return [...found.values()].map(({ pid, startTicks, command }) => ({ pid, startTicks, command }));
}

/**
 * Ends every process of a node: SIGTERM, SIGKILL after graceMs, then looks again (a process may
 * have forked meanwhile) until none is left. Returns what it ended.
 */
export async function endProcessesOfNode(namespaces: NodeNamespaces, graceMs = 3_000): Promise<FoundProcess[]> {
  const ended: FoundProcess[] = [];
  for (let round = 0; round < 5; round++) {
    const found = processesOfNode(namespaces).filter((p) => isRunning(p));
    if (found.length === 0) return ended;
    ended.push(...found);
    for (const p of found) signal(p.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (found.some((p) => isRunning(p)) && Date.now() < deadline) await sleep(50);
    for (const p of found.filter((q) => isRunning(q))) signal(p.pid, 'SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (found.some((p) => isRunning(p)) && Date.now() < killDeadline) await sleep(50);
  }
  const left = processesOfNode(namespaces).filter((p) => isRunning(p));
  if (left.length > 0) throw new Error(`processes of the node survived SIGKILL: ${left.map((p) => `${p.command} (pid ${p.pid})`).join(', ')}`);
  return ended;
}

interface ProcessEntry extends FoundProcess {
  readonly ppid: number;
}

function listProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid ..." — comm may contain spaces and parentheses
    const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    entries.push({ pid: Number(name), ppid: Number(fields[1]), startTicks: fields[19] ?? '', command });
  }
  return entries;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
