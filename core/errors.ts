/** Exit codes, as the README documents them. */
export const exitCodes = {
  failed: 1,
  badInput: 2,
  notBuilt: 3,
  unreachable: 4,
  refused: 5,
  timedOut: 6,
  blocked: 7,
  buildFailed: 8,
  /** `verify` ran and a check failed, or `loadtest` ran and a threshold failed (the table or summary names each). */
  checksFailed: 9,
  interrupted: 130,
} as const;

/**
 * An error caused by the user's input (flags, config, inventory, env) or by a state
 * the user must fix. The CLI prints its message as one line and exits non-zero;
 * nothing else has been applied when it is thrown.
 */
export class UserError extends Error {
  readonly exitCode: number;

  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.exitCode = options?.exitCode ?? exitCodes.badInput;
  }
}

/** Raised by commands whose capability is planned but not built yet. */
export class NotBuiltYetError extends UserError {
  constructor(command: string, what: string) {
    super(`'tracelab ${command}' is not built yet: ${what}`, { exitCode: exitCodes.notBuilt });
    this.name = 'NotBuiltYetError';
  }
}

/** The run was stopped (Ctrl-C); the message says what was done and what was not. */
export class InterruptedError extends UserError {
  constructor(message: string) {
    super(message, { exitCode: exitCodes.interrupted });
    this.name = 'InterruptedError';
  }
}

/** Prefix an error with what was being attempted, keeping the original as cause. */
export function attempting(what: string, err: unknown): Error {
  const reason = err instanceof Error ? err.message : String(err);
  if (err instanceof UserError) return new UserError(`${what}: ${reason}`, { cause: err, exitCode: err.exitCode });
  return new Error(`${what}: ${reason}`, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
