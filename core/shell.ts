import { $ as zx, type Shell } from 'zx';
import type { Output } from './output.ts';

/**
 * The one way tracelab runs local commands: zx with quoted interpolation, quiet unless verbose.
 * Dry runs are decided by the caller (a step prints its plan instead of running).
 */
export function createShell(output: Output, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Shell {
  return zx({
    quiet: output.verbosity !== 'verbose',
    verbose: output.verbosity === 'verbose',
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
}
