import { KubeApiError } from './errors.ts';

export interface FieldConflict {
  /** The other field manager, e.g. `kubectl-scale`. */
  readonly manager: string;
  /** `.spec.replicas` as the apiserver spells it. */
  readonly field: string;
}

/**
 * Reads the conflicts out of a server-side apply's 409 answer, whose message has one of two forms:
 * `Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas` or
 * `Apply failed with 2 conflicts: conflicts with "kubectl-set" using apps/v1:\n- .a\n- .b`
 * (several managers give several such blocks).
 */
export function parseConflicts(err: unknown): FieldConflict[] | undefined {
  if (!(err instanceof KubeApiError) || err.status !== 409 || !err.message.startsWith('Apply failed with')) return undefined;
  const conflicts: FieldConflict[] = [];
  const blocks = err.message.split(/conflicts? with "/).slice(1);
  for (const block of blocks) {
    const manager = block.slice(0, block.indexOf('"'));
    const afterUsing = block.replace(/^[^"]*"(?: with subresource "[^"]*")? using [^:]+:/, '');
    const fields = afterUsing
      .split('\n')
      .map((line) => line.replace(/^\s*-?\s*/, '').trim())
      .filter((line) => line.startsWith('.'));
    for (const field of fields) conflicts.push({ manager, field });
  }
  return conflicts.length === 0 ? undefined : conflicts;
}

/** `.spec.replicas (kubectl-scale)`, several joined by commas. */
export function describeConflicts(conflicts: readonly FieldConflict[]): string {
  return conflicts.map((c) => `${c.field.replace(/^\./, '')} (changed by ${c.manager})`).join(', ');
}
