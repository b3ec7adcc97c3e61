import type { KubernetesObject } from '@kubernetes/client-node';

export interface FieldChange {
  /** `spec.replicas`, `spec.template.spec.containers[server].env[LOG_LEVEL].value` */
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

const serverOwnedMetadata = ['resourceVersion', 'uid', 'generation', 'creationTimestamp', 'managedFields', 'selfLink'];
/** Annotations written by controllers, not by us: a change there is not a change we made. */
const controllerAnnotations = ['deployment.kubernetes.io/revision'];

/** The object without status and server bookkeeping: what a user's apply can change. */
export function normalizeForDiff(object: KubernetesObject): Record<string, unknown> {
  const copy = structuredClone(object) as Record<string, unknown> & { metadata?: Record<string, unknown> };
  delete copy.status;
  if (copy.metadata !== undefined) {
    for (const field of serverOwnedMetadata) Reflect.deleteProperty(copy.metadata, field);
    const annotations = copy.metadata.annotations as Record<string, string> | undefined;
    if (annotations !== undefined) {
      for (const key of controllerAnnotations) Reflect.deleteProperty(annotations, key);
      if (Object.keys(annotations).length === 0) delete copy.metadata.annotations;
    }
  }
  return copy;
}

/** The fields that differ between the live object and what the apply produced (or would produce). */
export function diffObjects(live: KubernetesObject, applied: KubernetesObject): FieldChange[] {
  const changes: FieldChange[] = [];
  diffValues(normalizeForDiff(live), normalizeForDiff(applied), '', changes);
  return changes;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Lists whose items all have distinct names (containers, env, ports, volumes) are matched by name. */
function namedItems(list: unknown[]): Map<string, unknown> | undefined {
  const byName = new Map<string, unknown>();
  for (const item of list) {
    if (!isRecord(item) || typeof item.name !== 'string' || byName.has(item.name)) return undefined;
    byName.set(item.name, item);
  }
  return byName;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function diffValues(before: unknown, after: unknown, path: string, changes: FieldChange[]): void {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    for (const key of keys) diffValues(before[key], after[key], join(path, key), changes);
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const beforeByName = namedItems(before);
    const afterByName = namedItems(after);
    if (beforeByName !== undefined && afterByName !== undefined && before.length > 0 && after.length > 0) {
      const names = [...new Set([...beforeByName.keys(), ...afterByName.keys()])];
      for (const name of names) diffValues(beforeByName.get(name), afterByName.get(name), `${path}[${name}]`, changes);
      return;
    }
    if (before.length === after.length) {
      before.forEach((item, index) => {
        diffValues(item, after[index], `${path}[${index}]`, changes);
      });
      return;
    }
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) changes.push({ path, before, after });
}

/** Longest value shown whole; a longer one is shown as a window of this many characters. */
const shownLength = 60;
/** Characters kept before the first difference, so the window says where in the value it is. */
const leadLength = 20;

const graphemes = new Intl.Segmenter();

/** The value as JSON, in characters as a reader sees them (not UTF-16 units): a cut never splits one. */
function characters(value: unknown): string[] {
  return Array.from(graphemes.segment(value === undefined ? '(none)' : JSON.stringify(value)), (part) => part.segment);
}

/** Characters from `start`, with … where the value goes on beyond either end. */
function excerpt(text: string[], start: number): string {
  const cut = text.slice(start, start + shownLength).join('');
  return `${start > 0 ? '…' : ''}${cut}${start + shownLength < text.length ? '…' : ''}`;
}

/**
 * `spec.replicas 2 → 3`. A long value is cut around the first difference, the same window on
 * both sides, so that a change at the end of a long env value or JSON document is not hidden
 * behind two identical-looking beginnings.
 */
export function describeChange(change: FieldChange): string {
  const before = characters(change.before);
  const after = characters(change.after);
  if (before.length <= shownLength && after.length <= shownLength) return `${change.path} ${before.join('')} → ${after.join('')}`;
  let first = 0;
  if (change.before !== undefined && change.after !== undefined) {
    while (first < before.length && first < after.length && before[first] === after[first]) first++;
  }
  // Up to leadLength characters before the difference, more when the value ends sooner.
  const start = Math.max(0, Math.min(first - leadLength, Math.max(before.length, after.length) - shownLength));
  return `${change.path} ${excerpt(before, start)} → ${excerpt(after, start)}`;
}
