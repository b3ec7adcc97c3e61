import type { Output } from './output.ts';

/** What every command receives from the CLI; nothing below the CLI reads argv or env. */
export interface GlobalOptions {
  /** Path of the kubeconfig; undefined means the client's default (KUBECONFIG, ~/.kube/config). */
  readonly kubeconfig: string | undefined;
  /** kubeconfig context; undefined means the current context. */
  readonly context: string | undefined;
  readonly dryRun: boolean;
  readonly output: Output;
  /** Asks the person running tracelab; true at once with --yes, false without a terminal. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** Where the Go-built components are cached ($TRACELAB_CACHE); undefined: ~/.cache/tracelab. */
  readonly componentCache?: string | undefined;
  /** The directories tools are looked up in when not given by path ($PATH). */
  readonly searchPath?: string | undefined;
  /** Aborted by Ctrl-C: long runs stop between steps and say what they did. */
  readonly signal?: AbortSignal;
}
