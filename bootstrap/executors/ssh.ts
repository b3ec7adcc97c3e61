import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { shellWord } from '../host-access.ts';
import { CommandFailed, receiveTarScript, shownCommand, streamTar, type CommandResult, type Executor, type RunOptions } from './executor.ts';

export interface SshTarget {
  /** The host's name in progress lines and errors. */
  readonly host: string;
  readonly address: string;
  readonly user: string;
  readonly port: number;
  /** @default ssh's own choice: ~/.ssh/config, ssh-agent, ~/.ssh/id_* */
  readonly identityFile?: string;
}

export interface SshOptions {
  /** Trust a host's key on first connection (StrictHostKeyChecking=accept-new); a changed key is refused regardless. */
  readonly acceptNewHostKeys: boolean;
  /** @default ssh's (~/.ssh/known_hosts) */
  readonly knownHostsFile?: string;
  /** Where the multiplexing sockets live: keep it short, a unix socket path has ~100 characters. */
  readonly controlDir: string;
  /** ssh -F; @default ~/.ssh/config and /etc/ssh/ssh_config */
  readonly sshConfigFile?: string;
  /** @default 10 */
  readonly connectTimeoutSeconds?: number;
  /** A keepalive every intervalSeconds; the connection counts as cut after `count` unanswered. @default 5 s × 3 */
  readonly keepAlive?: { readonly intervalSeconds: number; readonly count: number };
}

/** An Executor over one multiplexed OpenSSH connection; close() ends that connection. */
export interface SshExecutor extends Executor {
  /** The master connection's socket. */
  readonly controlPath: string;
  /** Whether the master connection is up (`ssh -O check`). */
  masterRunning(): Promise<boolean>;
  /** Ends the master connection (`ssh -O exit`); the next command opens a new one. */
  close(): Promise<void>;
}

/** ssh could not reach the host, or lost it: one line naming the host, ssh's reason and the fix. */
export class SshConnectionFailed extends Error {
  readonly host: string;
  /** ssh's own words, e.g. "Permission denied (publickey)." */
  readonly reason: string;

  constructor(target: SshTarget, reason: string, fix: string) {
    super(`${target.host} (${target.user}@${target.address}:${target.port}): SSH connection failed: ${reason} — ${fix}`);
    this.name = 'SshConnectionFailed';
    this.host = target.host;
    this.reason = reason;
  }
}

/** ssh's exit status for its own errors (a remote command's own 255 is told apart by ssh's message). */
const SSH_ERROR = 255;
/** ssh appends a random suffix of this length to the socket path while it creates it. */
const CONTROL_PATH_SUFFIX = 17;
const SOCKET_PATH_MAX = 107;
const READ_FILE_MISSING = 3;

/**
 * Runs commands on a host with the system's OpenSSH client, so ~/.ssh/config, ssh-agent and
 * known_hosts apply as for a person at the terminal. Every command shares one connection.
 *
 *   const node = sshExecutor({ host: 'worker-1', address: '10.0.0.11', user: 'root', port: 22 },
 *     { acceptNewHostKeys: false, controlDir: '/root/.cache/tracelab/ssh' });
 *   try { await node.run(['uname', '-r']); } finally { await node.close(); }
 */
export function sshExecutor(target: SshTarget, options: SshOptions): SshExecutor {
  const controlPath = path.join(options.controlDir, createHash('sha256').update(`${target.user}@${target.address}:${target.port}`).digest('hex').slice(0, 16));
  if (controlPath.length + CONTROL_PATH_SUFFIX > SOCKET_PATH_MAX) {
    throw new Error(`${target.host}: the SSH control directory ${options.controlDir} is too long for a unix socket path (${SOCKET_PATH_MAX - CONTROL_PATH_SUFFIX - 17} characters at most): choose a shorter one`);
  }
  const keepAlive = options.keepAlive ?? { intervalSeconds: 5, count: 3 };
  const sshOptions = [
    ...(options.sshConfigFile === undefined ? [] : ['-F', options.sshConfigFile]),
    ...(target.identityFile === undefined ? [] : ['-i', target.identityFile, '-o', 'IdentitiesOnly=yes']),
    ...(options.knownHostsFile === undefined ? [] : ['-o', `UserKnownHostsFile=${options.knownHostsFile}`]),
    ...[
      'BatchMode=yes',
      `StrictHostKeyChecking=${options.acceptNewHostKeys ? 'accept-new' : 'yes'}`,
      `ConnectTimeout=${options.connectTimeoutSeconds ?? 10}`,
      `ServerAliveInterval=${keepAlive.intervalSeconds}`,
      `ServerAliveCountMax=${keepAlive.count}`,
      'ControlMaster=auto',
      `ControlPath=${controlPath}`,
      'ControlPersist=300',
      // keeps "Permanently added … to the list of known hosts" out of every command's stderr
      'LogLevel=ERROR',
    ].flatMap((option) => ['-o', option]),
    '-p', String(target.port),
    '-l', target.user,
  ];
  const ssh = async (args: readonly string[], input?: string): Promise<CommandResult> => {
    mkdirSync(options.controlDir, { recursive: true, mode: 0o700 });
    const hasInput = input !== undefined && input !== '';
    const out = await $({
      quiet: true,
      nothrow: true,
      ...(hasInput ? { input } : { stdio: ['ignore', 'pipe', 'pipe'] }),
    })`ssh ${sshOptions} ${args}`;
    return { stdout: out.stdout, stderr: out.stderr, exitCode: out.exitCode ?? SSH_ERROR };
  };

  // sudo's secure_path (RHEL family) leaves out /usr/local/bin, where containerd and the artifacts' binaries go.
  const asRoot = target.user === 'root' ? [] : ['sudo', '--non-interactive', '--', 'env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

  const masterRunning = async (): Promise<boolean> => (await ssh(['-O', 'check', target.address])).exitCode === 0;

  const run = async (command: readonly string[], runOptions: RunOptions = {}): Promise<CommandResult> => {
    if (command.length === 0) throw new Error(`run on ${target.host}: the command is empty`);
    const env = Object.entries(runOptions.env ?? {}).map(([key, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`'${key}' is not a valid environment variable name`);
      return `${key}=${value}`;
    });
    // A login other than root (vagrant, ubuntu, ec2-user) runs every command through passwordless sudo.
    const argv = [...asRoot, ...(env.length === 0 ? command : ['env', ...env, ...command])];
    // ssh hands the remote side one string for the user's login shell: every word quoted for it
    const result = await ssh(['-T', target.address, '--', argv.map(shellWord).join(' ')], runOptions.input);
    if (result.exitCode === SSH_ERROR) {
      const failure = connectionFailure(target, result.stderr, options);
      if (failure !== undefined) throw failure;
      // a client of the master exits 255 without a word when the master loses the host
      if (!(await masterRunning())) {
        const said = result.stderr.trim().split('\n').at(-1) ?? '';
        throw new SshConnectionFailed(target, `the connection was cut while \`${shownCommand(command)}\` ran${said === '' ? '' : ` (${said})`}`, 'check that the host is up and reachable, then run again');
      }
    }
    if (result.exitCode !== 0 && runOptions.nothrow !== true) throw new CommandFailed(target.host, command, result);
    return result;
  };

  const requireAbsolute = (file: string): void => {
    if (!file.startsWith('/')) throw new Error(`on ${target.host}: '${file}' is not an absolute path`);
  };

  return {
    host: target.host,
    controlPath,
    run,
    async writeFile(file, content, mode = 0o644) {
      requireAbsolute(file);
      // the temporary file sits next to the target so that mv is an atomic rename
      const script = 'umask 077 && tmp="$1.tracelab-tmp.$$" && mkdir -p -- "$(dirname -- "$1")" && cat >"$tmp" && chmod "$2" "$tmp" && mv -f -- "$tmp" "$1" || { rm -f -- "$tmp"; exit 1; }';
      await run(['sh', '-c', script, 'write-file', file, mode.toString(8)], { input: content });
    },
    async readFile(file) {
      requireAbsolute(file);
      const script = `[ -e "$1" ] || exit ${READ_FILE_MISSING}; exec cat -- "$1"`;
      const result = await run(['sh', '-c', script, 'read-file', file], { nothrow: true });
      if (result.exitCode === READ_FILE_MISSING) return undefined;
      if (result.exitCode !== 0) throw new CommandFailed(target.host, ['cat', file], result);
      return result.stdout;
    },
    async upload(localDir, paths, remoteDir) {
      requireAbsolute(remoteDir);
      mkdirSync(options.controlDir, { recursive: true, mode: 0o700 });
      const remote = [...asRoot, 'sh', '-c', receiveTarScript, 'receive', remoteDir].map(shellWord).join(' ');
      const copy = await streamTar(localDir, paths, ['ssh', ...sshOptions, '-T', target.address, '--', remote]);
      if (copy.exitCode === SSH_ERROR) {
        const failure = connectionFailure(target, copy.stderr, options);
        if (failure !== undefined) throw failure;
        if (!(await masterRunning())) throw new SshConnectionFailed(target, `the connection was cut while copying ${String(paths.length)} files to ${remoteDir}`, 'check that the host is up and reachable, then run again');
      }
      if (copy.exitCode !== 0) throw new CommandFailed(target.host, ['tar', '-C', remoteDir, '-xf', '-'], copy);
    },
    masterRunning,
    async close() {
      await ssh(['-O', 'exit', target.address]);
    },
  };
}

/** The SshConnectionFailed for ssh's stderr, or undefined when the 255 came from the remote command. */
function connectionFailure(target: SshTarget, stderr: string, options: SshOptions): SshConnectionFailed | undefined {
  const lines = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/^@+$|^@+ WARNING/.test(line));
  const line = (pattern: RegExp): string | undefined => lines.find((l) => pattern.test(l));
  const where = `${target.address}:${target.port}`;
  const knownHosts = options.knownHostsFile ?? '~/.ssh/known_hosts';
  const keyName = target.port === 22 ? target.address : `[${target.address}]:${target.port}`;

  const changed = line(/^Host key for .* has changed/) ?? line(/REMOTE HOST IDENTIFICATION HAS CHANGED/);
  if (changed !== undefined) {
    return new SshConnectionFailed(target, changed, `the host's key differs from the one in ${knownHosts}; if the host was reinstalled, remove the old key with \`ssh-keygen -R '${keyName}'\` and connect again, otherwise someone may be in between`);
  }
  const unknown = line(/host key is known for|^Host key verification failed/);
  if (unknown !== undefined) {
    return new SshConnectionFailed(target, unknown, `${keyName} is not in ${knownHosts}: check its fingerprint and add it (ssh-keyscan -p ${target.port} ${target.address}), or pass --accept-new-host-keys to trust it on first connection`);
  }
  const denied = line(/Permission denied|Too many authentication failures/);
  if (denied !== undefined) {
    const key = target.identityFile === undefined ? 'the keys of ssh-agent and ~/.ssh' : target.identityFile;
    return new SshConnectionFailed(target, denied, `the host refused user ${target.user} with ${key}: check the user, and that the key's public half is in ~${target.user}/.ssh/authorized_keys on the host`);
  }
  const refused = line(/Connection refused/);
  if (refused !== undefined) return new SshConnectionFailed(target, refused, `nothing accepts connections on ${where}: check that sshd runs there and the port is right`);
  const unreachable = line(/timed out|No route to host|Network is unreachable|Could not resolve/);
  if (unreachable !== undefined) return new SshConnectionFailed(target, unreachable, `no answer from ${where}: check the address, that the host is up, and firewalls on the way`);
  const cut = line(/not responding|closed by remote host|Connection closed|Connection reset|Broken pipe|^client_loop|^mux_client|read header failed|Received disconnect|^kex_exchange_identification/);
  if (cut !== undefined) return new SshConnectionFailed(target, `the connection was cut (${cut})`, 'check that the host is up and reachable, then run again');
  const own = line(/^ssh: |^Bad owner or permissions|^Load key|^Can't open user config|^command-line|^Bad configuration option/);
  if (own !== undefined) return new SshConnectionFailed(target, own, `run \`ssh -p ${target.port} ${target.user}@${target.address} true\` to see ssh's full error`);
  return undefined;
}
