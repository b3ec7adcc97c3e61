import type { Output } from '../core/output.ts';
import type { CommandResult, Executor } from './executors/executor.ts';

/**
 * A step's hands on its host. Probes (reading) always run; changes (commands that alter the
 * host, file writes) are printed instead of run in a dry run — so `--dry-run` shows the exact
 * commands and changes nothing.
 */
export interface HostAccess {
  readonly name: string;
  probe(command: readonly string[]): Promise<CommandResult>;
  read(path: string): Promise<string | undefined>;
  change(command: readonly string[], options?: { input?: string }): Promise<void>;
  /** A change whose output the caller needs (e.g. a token it creates); a dry run prints it and gets undefined. Its output is never logged. */
  create(command: readonly string[]): Promise<string | undefined>;
  write(path: string, content: string, mode?: number): Promise<void>;
  upload(localDir: string, paths: readonly string[], remoteDir: string): Promise<void>;
}

export function hostAccess(executor: Executor, options: { dryRun: boolean; output: Output }): HostAccess {
  const say = (line: string): void => {
    options.output.info(`  ${executor.host}$ ${line}`);
  };
  return {
    name: executor.host,
    probe: (command) => executor.run(command, { nothrow: true }),
    read: (path) => executor.readFile(path),
    async change(command, changeOptions = {}) {
      if (options.dryRun) {
        say(command.map(shellWord).join(' '));
        return;
      }
      options.output.detail(`  ${executor.host}$ ${command.map(shellWord).join(' ')}`);
      await executor.run(command, changeOptions.input === undefined ? {} : { input: changeOptions.input });
    },
    async create(command) {
      if (options.dryRun) {
        say(command.map(shellWord).join(' '));
        return undefined;
      }
      options.output.detail(`  ${executor.host}$ ${command.map(shellWord).join(' ')}`);
      return (await executor.run(command)).stdout;
    },
    async write(path, content, mode = 0o644) {
      if (options.dryRun) {
        say(`write ${path} (${content.length} bytes, mode ${mode.toString(8)})`);
        return;
      }
      await executor.writeFile(path, content, mode);
    },
    async upload(localDir, paths, remoteDir) {
      if (options.dryRun) {
        say(`copy ${paths.length} files from ${localDir} to ${remoteDir}`);
        return;
      }
      options.output.detail(`  ${executor.host}: copying ${paths.length} files from ${localDir} to ${remoteDir}`);
      await executor.upload(localDir, paths, remoteDir);
    },
  };
}

/** How a command would be typed: words with shell characters quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The SHA-256 of each file, in one probe; undefined when any of them is missing or unreadable. */
export async function fileDigests(host: HostAccess, paths: readonly string[]): Promise<Map<string, string> | undefined> {
  if (paths.length === 0) return new Map();
  const live = await host.probe(['sha256sum', ...paths]);
  if (live.exitCode !== 0) return undefined;
  return new Map(live.stdout.trim().split('\n').map((line) => [line.slice(66).trim(), line.slice(0, 64)] as const));
}

/** Several small text files in one probe: each one's content, or undefined when it does not exist. */
export async function readFiles(host: HostAccess, paths: readonly string[]): Promise<Map<string, string | undefined>> {
  const marker = `--tracelab-file-${String(Date.now())}--`;
  const script = 'm=$1; shift; for f; do if [ -e "$f" ]; then printf "%s present\\n" "$m"; cat -- "$f" || exit 1; else printf "%s missing\\n" "$m"; fi; done; printf "%s end\\n" "$m"';
  const live = await host.probe(['sh', '-c', script, 'read-files', marker, ...paths]);
  const parts = live.stdout.split(`${marker} `).slice(1);
  // A read that failed (permissions, a cut connection) must not pass for a missing file.
  if (live.exitCode !== 0 || parts.at(-1) !== 'end\n' || parts.length !== paths.length + 1) {
    throw new Error(`${host.name}: reading ${paths.join(', ')} failed (exit ${String(live.exitCode)}): ${live.stderr.trim().split('\n').at(-1) ?? ''}`);
  }
  return new Map(paths.map((path, i) => {
    const part = parts[i] ?? '';
    return [path, part.startsWith('missing\n') ? undefined : part.slice('present\n'.length)] as const;
  }));
}
