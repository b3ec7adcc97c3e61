/** What a command printed and how it ended. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface RunOptions {
  readonly input?: string;
  /** Resolve with the exit code instead of throwing on a non-zero exit. */
  readonly nothrow?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * How a bootstrap step reaches its host: the local machine, a host over SSH, or a test node in
 * its own namespaces. Steps never spawn processes themselves, so the same step runs on all three.
 */
export interface Executor {
  /** The host's name in progress lines and errors. */
  readonly host: string;
  /** Runs argv without a shell (nothing to quote); throws CommandFailed on a non-zero exit unless nothrow. */
  run(command: readonly string[], options?: RunOptions): Promise<CommandResult>;
  writeFile(path: string, content: string, mode?: number): Promise<void>;
  /** The file's text, or undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>;
}

/** A command that exited non-zero: names the host, the command and the end of its stderr. */
export class CommandFailed extends Error {
  readonly host: string;
  readonly command: readonly string[];
  readonly result: CommandResult;

  constructor(host: string, command: readonly string[], result: CommandResult) {
    // kubeadm and friends say what failed in [ERROR …] lines above their generic last lines.
    const lines = result.stderr.trim().split('\n');
    const errors = lines.filter((line) => /^\s*\[ERROR|^error:/i.test(line));
    const tail = (errors.length > 0 ? errors.slice(0, 3) : lines.slice(-3)).join(' | ');
    super(`${host}: \`${command.join(' ')}\` exited ${result.exitCode}${tail === '' ? '' : `: ${tail}`}`);
    this.name = 'CommandFailed';
    this.host = host;
    this.command = command;
    this.result = result;
  }
}
