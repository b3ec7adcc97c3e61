import { UserError, attempting, exitCodes } from '../errors.ts';
import type { ObjectRef } from './client.ts';
import { describeChange, type FieldChange } from './diff.ts';
import { KubeApiError, KubeUnreachableError, conciseApiMessage } from './errors.ts';
import { describeRef } from './objects.ts';
import { describeManagers } from './ownership.ts';
import { describeConflicts, parseConflicts } from './conflicts.ts';
import { RetriesExhaustedError } from './retry.ts';

export type Action = 'created' | 'changed' | 'unchanged' | 'adopted' | 'pruned';

export interface Outcome {
  readonly ref: ObjectRef;
  readonly action: Action;
  readonly changes: readonly FieldChange[];
  /** Field managers whose changes this apply takes back (--force-conflicts). */
  readonly takenFrom?: readonly string[];
  /** Of an adopted object: who made it. */
  readonly managers?: readonly string[];
}

export interface DeployReport {
  readonly layer: string;
  readonly dryRun: boolean;
  readonly outcomes: readonly Outcome[];
}

export function count(report: DeployReport, action: Action): number {
  return report.outcomes.filter((outcome) => outcome.action === action).length;
}

/**
 * `demo: 1 created, 1 changed, 9 unchanged, 0 pruned` (adopted objects counted only when there
 * are some; `(dry run)` when nothing was persisted).
 */
export function summarize(report: DeployReport): string {
  const actions = count(report, 'adopted') > 0 ? (['created', 'changed', 'unchanged', 'adopted', 'pruned'] as const) : (['created', 'changed', 'unchanged', 'pruned'] as const);
  const counts = actions.map((action) => `${count(report, action)} ${action}`).join(', ');
  return `${report.layer}: ${counts}${report.dryRun ? ' (dry run: nothing was changed)' : ''}`;
}

const marks: Readonly<Record<Action, string>> = { created: '+', changed: '~', unchanged: '=', adopted: '!', pruned: '-' };

/** One line per object, changed objects with one line per changed field. */
export function describeOutcomes(report: DeployReport, options: { includeUnchanged: boolean }): string[] {
  const lines: string[] = [];
  for (const outcome of report.outcomes) {
    if (outcome.action === 'unchanged' && !options.includeUnchanged) continue;
    const what = describeRef(outcome.ref);
    if (outcome.action === 'changed') {
      const takenFrom = outcome.takenFrom === undefined ? '' : ` (taking it back from ${outcome.takenFrom.join(', ')})`;
      for (const change of outcome.changes) lines.push(`${marks.changed} ${what}: ${describeChange(change)}${takenFrom}`);
    } else if (outcome.action === 'adopted') {
      lines.push(`${marks.adopted} ${what} adopted: it exists but tracelab did not create it (made by ${describeManagers(outcome.managers ?? [])})`);
      for (const change of outcome.changes) lines.push(`  ~ ${what}: ${describeChange(change)}`);
    } else {
      lines.push(`${marks[outcome.action]} ${what} ${outcome.action}`);
    }
  }
  return lines;
}

/**
 * Turns an API failure into one line naming the operation, the object and the cause:
 * `apply Deployment tracelab-demo/backend: .spec.template.spec.containers[…].bogus: field not declared in schema`.
 */
export function explainKubeError(operation: string, ref: ObjectRef | undefined, err: unknown): Error {
  const what = ref === undefined ? operation : `${operation} ${describeRef(ref)}`;
  if (err instanceof UserError) return attempting(what, err);
  if (err instanceof RetriesExhaustedError) {
    const cause = err.cause;
    const hint = cause instanceof KubeUnreachableError ? ' — check that the cluster is up and --kubeconfig/--context point at it' : '';
    const reason = cause instanceof KubeApiError ? `${cause.status} ${conciseApiMessage(cause.message)}` : cause instanceof Error ? cause.message : String(cause);
    return new UserError(`${what}: ${reason} (gave up after ${err.attempts} attempts in ${(err.elapsedMs / 1000).toFixed(1)}s)${hint}`, { cause: err, exitCode: exitCodes.unreachable });
  }
  if (err instanceof KubeUnreachableError) return new UserError(`${what}: ${err.message} — check --kubeconfig/--context`, { cause: err, exitCode: exitCodes.unreachable });
  if (err instanceof KubeApiError) {
    const conflicts = parseConflicts(err);
    if (conflicts !== undefined) {
      return new UserError(
        `${what}: ${describeConflicts(conflicts)} since tracelab applied it — applying would undo that change: re-run with --force-conflicts to take the fields back, or make the layer's options match`,
        { cause: err, exitCode: exitCodes.refused },
      );
    }
    return new UserError(`${what}: ${conciseApiMessage(err.message)}`, { cause: err, exitCode: exitCodes.refused });
  }
  return attempting(what, err);
}
