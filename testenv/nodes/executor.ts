/** What one command produced on a host. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface RunOptions {
  /** Written to the command's stdin. */
  readonly input?: string;
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  readonly nothrow?: boolean;
  /** Added to the command's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * How a command reaches a host: locally, over SSH, or inside a test node. Bootstrap steps talk to
 * their host only through this, so the same step runs anywhere. (The product side will own this
 * interface in bootstrap/executors/ and this file will re-export it.)
 */
export interface Executor {
  /** The host's name, for messages. */
  readonly host: string;
  /** Runs argv (no shell); throws CommandFailedError on a non-zero exit unless `nothrow`. */
  run(command: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Writes a file, creating missing parent directories. @default mode 0o644 */
  writeFile(path: string, content: string, mode?: number): Promise<void>;
  /** A file's content, or undefined when it does not exist. */
  readFile(path: string): Promise<string | undefined>;
}

export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
  readonly host: string;
  readonly command: readonly string[];
  readonly result: CommandResult;

  constructor(host: string, command: readonly string[], result: CommandResult) {
    const stderr = result.stderr.trim().split('\n').slice(-5).join('\n');
    super(`on ${host}: \`${command.join(' ')}\` exited with code ${result.exitCode}${stderr === '' ? '' : `: ${stderr}`}`);
    this.host = host;
    this.command = command;
    this.result = result;
  }
}
