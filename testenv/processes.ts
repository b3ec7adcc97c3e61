import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** What identifies a started process, also after the starting process is gone (pids.json). */
export interface ProcessRecord {
  readonly name: string;
  readonly pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): guards against pid reuse. */
  readonly startTicks: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logFile: string;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ManagedProcess extends ProcessRecord {
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** undefined while running, else e.g. "exited with code 1" — for wait messages. */
  exitStatus(): string | undefined;
  /** The last lines of the captured stdout+stderr. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
  record(): ProcessRecord;
}

export interface StartProcessOptions {
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Where stdout+stderr go. @default <tmp>/tracelab-<name>-XXXX/<name>.log */
  readonly logFile?: string;
  /**
   * Keep running after this Node process exits (own process group, not killed on exit).
   * For `controlplane-cli up`; tests leave it false so nothing outlives them.
   * @default false
   */
  readonly detached?: boolean;
}

const DEFAULT_GRACE_MS = 5_000;

/** Non-detached children, killed when this Node process exits so a crashed test leaks nothing. */
const attached = new Set<ManagedProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of attached) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Start a process with stdout+stderr captured to a log file. */
export function startProcess(options: StartProcessOptions): ManagedProcess {
  const args = options.args ?? [];
  const logFile = options.logFile ?? path.join(mkdtempSync(path.join(tmpdir(), `tracelab-${options.name}-`)), `${options.name}.log`);
  const fd = openSync(logFile, 'a');
  let child;
  try {
    child = spawn(options.command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: options.detached ?? false,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`failed to start ${options.name} (${options.command}): ${spawnErrorHint(options.command)}`);
  }
  let exit: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  child.once('error', () => {
    // reported through exit / exitStatus
  });
  const detached = options.detached ?? false;
  if (detached) child.unref();
  const startTicks = readStartTicks(pid) ?? '';

  const record: ProcessRecord = { name: options.name, pid, startTicks, command: options.command, args, logFile };
  const managed: ManagedProcess = {
    ...record,
    exited,
    exitStatus: () => (exit === undefined ? undefined : describeExit(exit)),
    logTail: (lines = 20) => tailFile(logFile, lines),
    record: () => record,
    stop: async (graceMs = DEFAULT_GRACE_MS) => {
      try {
        if (exit !== undefined) return;
        signal(pid, 'SIGTERM');
        // a plain timer, cleared once the process exits, so it does not hold the event loop open
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout'); }, graceMs); });
        const outcome = await Promise.race([exited, graceOver]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          signal(pid, 'SIGKILL');
          await exited;
        }
      } finally {
        attached.delete(managed);
      }
    },
  };
  if (!detached) {
    installExitHook();
    attached.add(managed);
    void exited.then(() => attached.delete(managed));
  }
  return managed;
}

/**
 * Whether the recorded process still runs: the pid exists, is not a zombie, and started at the
 * recorded time (so a reused pid is not mistaken for it).
 */
export function isRunning(record: Pick<ProcessRecord, 'pid' | 'startTicks'>): boolean {
  const stat = readStat(record.pid);
  if (stat === undefined) return false;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return record.startTicks === '' || stat.startTicks === record.startTicks;
}

/**
 * Stop a process recorded by an earlier run (e.g. pids.json): SIGTERM, then SIGKILL after graceMs.
 * Signals only that exact process (pid + start time), never by name.
 */
export async function stopRecorded(record: ProcessRecord, graceMs = DEFAULT_GRACE_MS): Promise<void> {
  if (!isRunning(record)) return;
  signal(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isRunning(record) && Date.now() < deadline) await sleep(50);
  if (!isRunning(record)) return;
  signal(record.pid, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (isRunning(record)) {
    if (Date.now() > killDeadline) throw new Error(`${record.name} (pid ${record.pid}) survived SIGKILL`);
    await sleep(50);
  }
}

export function tailFile(file: string, lines: number): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '';
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function describeExit(exit: ExitInfo): string {
  return exit.signal === null ? `exited with code ${String(exit.code)}` : `was killed by ${exit.signal}`;
}

function spawnErrorHint(command: string): string {
  return `could not spawn ${command}: check that it exists and is executable`;
}

function readStat(pid: number): { state: string; startTicks: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..." — comm may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', startTicks: fields[19] ?? '' };
}

function readStartTicks(pid: number): string | undefined {
  return readStat(pid)?.startTicks;
}
