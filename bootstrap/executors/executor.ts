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
  /** Copies files (paths relative to localDir, on this machine) into remoteDir on the host, streamed as a tar. */
  upload(localDir: string, paths: readonly string[], remoteDir: string): Promise<void>;
}

/** The shell script a host runs to receive upload()'s tar on stdin. */
export const receiveTarScript = 'mkdir -p -- "$1" && exec tar -C "$1" -xf -';

/** A command as an error shows it: an inline script (`sh -c SCRIPT NAME ARGS…`) by its name, so the line stays one line. */
export function shownCommand(command: readonly string[]): string {
  const [program, flag, , name, ...args] = command;
  if (program === 'sh' && flag === '-c' && name !== undefined) return ['sh', '-c', `<${name}>`, ...args].join(' ');
  return command.join(' ');
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
    super(`${host}: \`${shownCommand(command)}\` exited ${result.exitCode}${tail === '' ? '' : `: ${tail}`}`);
    this.name = 'CommandFailed';
    this.host = host;
    this.command = command;
    this.result = result;
  }
}

/**
 * Streams `tar -C localDir -cf - paths` into a receiving command (its argv), without holding the
 * archive in memory; resolves with the receiver's result.
 */
export async function streamTar(localDir: string, paths: readonly string[], receiver: readonly string[]): Promise<CommandResult> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', localDir, '-cf', '-', '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [program = '', ...args] = receiver;
    const receive = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let tarError = '';
    tar.stderr.on('data', (chunk: Buffer) => (tarError += chunk.toString()));
    receive.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    receive.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    tar.stdout.pipe(receive.stdin);
    // The receiver may end first (a cut connection): tar then gets EPIPE, which its exit reports.
    receive.stdin.on('error', () => undefined);
    tar.on('error', reject);
    receive.on('error', reject);
    let tarExit: number | null | undefined;
    tar.on('close', (code) => (tarExit = code));
    receive.on('close', (code) => {
      const exitCode = code ?? 1;
      if (exitCode === 0 && tarExit !== undefined && tarExit !== 0) resolve({ stdout, stderr: tarError, exitCode: tarExit ?? 1 });
      else resolve({ stdout, stderr, exitCode });
    });
  });
}
