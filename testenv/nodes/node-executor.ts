import { $ } from 'zx';
import { CommandFailed, receiveTarScript, streamTar, type CommandResult, type Executor, type RunOptions } from '../../bootstrap/executors/executor.ts';

/** A node's commands start from this environment (like a login on a fresh host), plus RunOptions.env. */
export const NODE_ENVIRONMENT: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
};

/** The argv prefix that enters a node's namespaces (its holder process's mount, UTS and network namespaces). */
export function enterNode(holderPid: number): string[] {
  return ['nsenter', `--target=${holderPid}`, '--mount', '--uts', '--net', '--'];
}

/** The argv prefix that gives a command exactly the node's environment. */
export function nodeEnvironment(extra: Readonly<Record<string, string>> = {}): string[] {
  const env = { ...NODE_ENVIRONMENT, ...extra };
  for (const key of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`'${key}' is not a valid environment variable name`);
  }
  return ['env', '-i', ...Object.entries(env).map(([key, value]) => `${key}=${value}`)];
}

/** The product's Executor for a test node: each command runs inside the node, through nsenter. */
export function nodeExecutor(host: string, holderPid: number): Executor {
  const run = async (command: readonly string[], options: RunOptions = {}): Promise<CommandResult> => {
    if (command.length === 0) throw new Error(`run on ${host}: the command is empty`);
    const hasInput = options.input !== undefined && options.input !== '';
    const sh = $({
      quiet: true,
      nothrow: true,
      cwd: '/',
      ...(hasInput ? { input: options.input } : { stdio: ['ignore', 'pipe', 'pipe'] }),
    });
    const out = await sh`${enterNode(holderPid)} ${nodeEnvironment(options.env)} ${command}`;
    const result = { stdout: out.stdout, stderr: out.stderr, exitCode: out.exitCode ?? 128 };
    if (result.exitCode !== 0 && options.nothrow !== true) throw new CommandFailed(host, command, result);
    return result;
  };
  return {
    host,
    run,
    writeFile: async (file, content, mode = 0o644) => {
      requireAbsolute(host, file);
      const script = 'mkdir -p -- "$(dirname -- "$1")" && cat >"$1.tracelab-tmp" && chmod "$2" "$1.tracelab-tmp" && mv -f -- "$1.tracelab-tmp" "$1"';
      await run(['sh', '-c', script, 'write-file', file, mode.toString(8)], { input: content });
    },
    upload: async (localDir, paths, remoteDir) => {
      requireAbsolute(host, remoteDir);
      const copy = await streamTar(localDir, paths, [...enterNode(holderPid), ...nodeEnvironment(), 'sh', '-c', receiveTarScript, 'receive', remoteDir]);
      if (copy.exitCode !== 0) throw new CommandFailed(host, ['tar', '-C', remoteDir, '-xf', '-'], copy);
    },
    readFile: async (file) => {
      requireAbsolute(host, file);
      const missing = 3;
      const script = `[ -e "$1" ] || exit ${missing}; cat -- "$1"`;
      const result = await run(['sh', '-c', script, 'read-file', file], { nothrow: true });
      if (result.exitCode === missing) return undefined;
      if (result.exitCode !== 0) throw new CommandFailed(host, ['cat', file], result);
      return result.stdout;
    },
  };
}

function requireAbsolute(host: string, file: string): void {
  if (!file.startsWith('/')) throw new Error(`on ${host}: '${file}' is not an absolute path`);
}
