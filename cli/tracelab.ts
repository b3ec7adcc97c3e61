#!/usr/bin/env node
import { enableCompileCache } from 'node:module';
import type * as commander from 'commander';
import type { GlobalOptions } from '../core/context.ts';

// First, before any other module is loaded (hence the dynamic imports below): later runs reuse
// V8's compiled code from the cache (default: <os tmpdir>/node-compile-cache).
enableCompileCache();

const { Command, CommanderError, Option } = await import('commander');
const { styleText } = await import('node:util');
const { createOutput } = await import('../core/output.ts');
const { UserError, errorMessage } = await import('../core/errors.ts');

/** Set for `ui`, which Ctrl-C ends (exit 0) rather than interrupts. */
let endsOnCtrlC = false;
/** Commands that only read: Ctrl-C ends them at once, there being no step to finish. */
const readOnlyCommands = new Set(['status', 'verify']);
let readsOnly = false;

const program = new Command('tracelab')
  .description('Kubernetes labs for distributed tracing across a service mesh, end to end')
  .addOption(new Option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'))
  .addOption(new Option('--context <name>', 'kubeconfig context (default: the current context)'))
  .option('--dry-run', 'show what would change without changing anything', false)
  .option('-y, --yes', 'agree to deleting objects tracelab did not create along with a namespace it deletes', false)
  .option('-v, --verbose', 'print the raw output of every tool', false)
  .option('-q, --quiet', 'print only errors', false)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .hook('preAction', (_program, action) => {
    endsOnCtrlC = action.name() === 'ui';
    readsOnly = readOnlyCommands.has(action.name());
  });

// Ctrl-C: the first asks the run to stop between steps and say what it did (exit 130); a second ends it at once.
const interrupt = new AbortController();
process.on('SIGINT', () => {
  if (interrupt.signal.aborted) process.exit(130);
  if (readsOnly) {
    process.stderr.write('\n✗ interrupted (nothing was changed)\n');
    process.exit(130);
  }
  process.stderr.write(endsOnCtrlC ? '\n' : '\n! stopping after the current step (Ctrl-C again to quit at once)\n');
  interrupt.abort();
});

async function ask(question: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
  const { createInterface } = await import('node:readline/promises');
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`? ${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

/** Everything below the CLI gets its settings from here, never from argv or env. */
export function globalOptions(command: commander.Command): GlobalOptions {
  const opts = command.optsWithGlobals<{ kubeconfig?: string; context?: string; dryRun: boolean; yes: boolean; verbose: boolean; quiet: boolean }>();
  if (opts.verbose && opts.quiet) throw new UserError('--verbose and --quiet contradict each other: pass at most one');
  return {
    kubeconfig: opts.kubeconfig ?? process.env.KUBECONFIG,
    context: opts.context,
    dryRun: opts.dryRun,
    confirm: opts.yes ? () => Promise.resolve(true) : ask,
    componentCache: process.env.TRACELAB_CACHE,
    searchPath: process.env.PATH,
    signal: interrupt.signal,
    output: createOutput({
      verbosity: opts.verbose ? 'verbose' : opts.quiet ? 'quiet' : 'normal',
      interactive: process.stderr.isTTY && process.env.CI !== 'true',
    }),
  };
}

const { registerCommands } = await import('./commands.ts');
registerCommands(program, globalOptions);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const message = errorMessage(err);
    process.stderr.write(`${styleText('red', `✗ ${message}`)}\n`);
    if (!(err instanceof UserError) && process.env.TRACELAB_DEBUG) console.error(err);
    process.exitCode = err instanceof UserError ? err.exitCode : 1;
  }
}
