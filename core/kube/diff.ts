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

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

/** `spec.replicas 2 → 3` */
export function describeChange(change: FieldChange): string {
  return `${change.path} ${show(change.before)} → ${show(change.after)}`;
}
