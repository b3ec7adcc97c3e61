import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { $ } from 'zx';
import { CommandFailed, receiveTarScript, streamTar, type CommandResult, type Executor, type RunOptions } from './executor.ts';

/** The machine tracelab runs on: the standalone lab's host. */
export function localExecutor(host = hostname()): Executor {
  return {
    host,
    async run(command: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
      const [program = '', ...args] = command;
      const output = await $({ nothrow: true, quiet: true, input: options.input, env: { ...process.env, ...options.env } })`${program} ${args}`;
      const result = { stdout: output.stdout, stderr: output.stderr, exitCode: output.exitCode ?? 1 };
      if (result.exitCode !== 0 && options.nothrow !== true) throw new CommandFailed(host, command, result);
      return result;
    },
    async writeFile(path: string, content: string, mode = 0o644): Promise<void> {
      await mkdir(dirname(path), { recursive: true });
      // A new file with its mode from the start, then renamed over: a secret is never readable by others, even briefly.
      const temporary = `${path}.tracelab-tmp.${String(process.pid)}`;
      await writeFile(temporary, content, { mode, flag: 'w' });
      await chmod(temporary, mode);
      await rename(temporary, path);
    },
    async upload(localDir: string, paths: readonly string[], remoteDir: string): Promise<void> {
      if (resolve(localDir) === resolve(remoteDir)) return;
      const copy = await streamTar(localDir, paths, ['sh', '-c', receiveTarScript, 'receive', remoteDir]);
      if (copy.exitCode !== 0) throw new CommandFailed(host, ['tar', '-C', remoteDir, '-xf', '-'], copy);
    },
    async readFile(path: string): Promise<string | undefined> {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
  };
}
