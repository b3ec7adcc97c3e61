import { parse, stringify } from 'yaml';
import { UserError } from '../core/errors.ts';

interface Named {
  name: string;
  [key: string]: unknown;
}

interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Named[];
  users?: Named[];
  contexts?: Named[];
  'current-context'?: string;
  [key: string]: unknown;
}

export interface MergedKubeconfig {
  readonly text: string;
  /** Entries of the same name that had other content and were replaced (the caller keeps a backup). */
  readonly replaced: readonly string[];
  readonly previousContext: string | undefined;
}

function readKubeconfig(text: string, what: string): Kubeconfig {
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    // First line only: YAML errors quote the file, credentials included.
    throw new UserError(`${what} is not valid YAML (${String(err instanceof Error ? err.message : err).split('\n')[0] ?? ''}) — fix or move it, then run again`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new UserError(`${what} is not a kubeconfig (a YAML mapping) — fix or move it, then run again`);
  return parsed as Kubeconfig;
}

/**
 * The lab's admin credentials (kubeadm's admin.conf) merged into the user's kubeconfig under
 * the lab's own names (cluster, user and context all `name`), made the current context. Other
 * entries stay as they were; entries of the lab's name with other content are replaced and listed.
 */
export function mergeKubeconfig(existingText: string | undefined, adminConfText: string, name: string): MergedKubeconfig {
  const existing = existingText === undefined ? {} : readKubeconfig(existingText, 'your kubeconfig');
  const admin = readKubeconfig(adminConfText, "the cluster's admin.conf");
  const cluster = admin.clusters?.[0]?.cluster;
  const user = admin.users?.[0]?.user;
  if (cluster === undefined || user === undefined) throw new Error("admin.conf has no cluster or user: kubeadm init did not finish — run tracelab bootstrap again");
  const entries = { clusters: { name, cluster }, users: { name, user }, contexts: { name, context: { cluster: name, user: name } } };
  const replaced: string[] = [];
  const merged: Kubeconfig = { apiVersion: 'v1', kind: 'Config', ...existing };
  for (const [section, entry] of Object.entries(entries) as [keyof typeof entries, Named][]) {
    const list = [...(existing[section] ?? [])];
    const index = list.findIndex((item) => item.name === name);
    if (index === -1) {
      list.push(entry);
    } else {
      if (JSON.stringify(list[index]) !== JSON.stringify(entry)) replaced.push(`${section.slice(0, -1)} '${name}'`);
      list[index] = entry;
    }
    merged[section] = list;
  }
  const previousContext = existing['current-context'];
  merged['current-context'] = name;
  return { text: stringify(merged, { lineWidth: 0 }), replaced, previousContext: previousContext === '' ? undefined : previousContext };
}

/** The user's kubeconfig without the lab's entries (after `tracelab reset`); undefined when it had none. */
export function removeFromKubeconfig(existingText: string, name: string): string | undefined {
  const config = readKubeconfig(existingText, 'your kubeconfig');
  const sections = ['clusters', 'users', 'contexts'] as const;
  if (!sections.some((section) => (config[section] ?? []).some((item) => item.name === name))) return undefined;
  for (const section of sections) config[section] = (config[section] ?? []).filter((item) => item.name !== name);
  if (config['current-context'] === name) config['current-context'] = '';
  return stringify(config, { lineWidth: 0 });
}
