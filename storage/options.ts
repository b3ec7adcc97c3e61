import { posix } from 'node:path';
import { UserError } from '../core/errors.ts';

export interface StorageOptions {
  /** The directory on every node under which each volume gets a directory of its own. */
  readonly path: string;
  /**
   * Mark `tracelab-local-path` as the cluster's default StorageClass, so that claims naming no
   * class (the registry's) land on it. adaptToCluster turns it off where another class is default.
   */
  readonly defaultClass: boolean;
}

export const storageOptionKeys = ['path', 'default-class'] as const;
export const storageDefaults = { path: '/var/lib/tracelab/local-path', defaultClass: true } as const;

/** Directories whose contents belong to the system: a volume directory under them could shadow or remove its files. */
const systemDirectories = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/run', '/sbin', '/sys', '/usr', '/var/lib/kubelet', '/var/lib/containerd', '/var/lib/etcd'];

/** Directories other programs and users share: the setup script makes the volumes' parent root-only (0700). */
const sharedDirectories = ['/tmp', '/var', '/var/tmp', '/var/lib', '/var/log', '/home', '/root', '/opt', '/srv', '/mnt', '/media'];

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

export function parseStorageOptions(raw: Readonly<Record<string, string | undefined>>): StorageOptions {
  for (const key of Object.keys(raw)) {
    if (!(storageOptionKeys as readonly string[]).includes(key)) {
      throw new UserError(`unknown option --${key} for the storage layer — it takes ${storageOptionKeys.map((k) => `--${k}`).join(', ')}`);
    }
  }
  const given = raw.path ?? storageDefaults.path;
  // The provisioner's helper pods and its shell scripts take the path as it is: plain characters only.
  if (!given.startsWith('/') || !/^[A-Za-z0-9._/-]+$/.test(given) || given.split('/').some((part) => part === '..' || part === '.')) {
    throw new UserError(`--path '${given}' must be an absolute directory of letters, digits, '.', '_', '-' and '/', without '.' or '..' parts, e.g. --path /var/lib/tracelab/local-path`);
  }
  const path = posix.normalize(given).replace(/\/+$/, '');
  const system = systemDirectories.find((dir) => under(path, dir) || under(dir, path));
  if (path === '' || system !== undefined) {
    throw new UserError(`--path '${given}' is ${path === '' ? 'the root directory' : `or holds the system directory ${system ?? ''}`}: volumes would be made and removed among the node's own files — pick a directory of their own, e.g. --path /var/lib/tracelab/local-path`);
  }
  if (sharedDirectories.includes(path)) {
    throw new UserError(`--path '${given}' is a directory others share: tracelab makes the volumes' directory readable by root only — pick one of its own below it, e.g. --path ${path}/tracelab-volumes`);
  }
  const defaultText = raw['default-class'] ?? String(storageDefaults.defaultClass);
  if (defaultText !== 'true' && defaultText !== 'false') {
    throw new UserError(`--default-class '${defaultText}' is not true or false: pass --default-class false to install tracelab-local-path without making it the cluster's default StorageClass`);
  }
  return { path, defaultClass: defaultText === 'true' };
}
