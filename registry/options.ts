import { UserError } from '../core/errors.ts';

/**
 * Where the registry keeps its blobs:
 * - `claim`: a PersistentVolumeClaim of the cluster's default StorageClass, which survives the pod being replaced;
 * - `pod`: an emptyDir bounded by the size, which survives container restarts but not a new pod;
 * - `auto`: a claim where the cluster has a default StorageClass, else the pod's (the layer says which).
 */
export type RegistryStorage = 'auto' | 'claim' | 'pod';

export interface RegistryOptions {
  readonly storage: RegistryStorage;
  /** A binary quantity, 1Gi to 1Ti. */
  readonly storageSize: string;
}

export const registryOptionKeys = ['storage', 'storage-size'] as const;
export const registryDefaults = { storage: 'auto', storageSize: '5Gi' } as const;

const units: Record<string, number> = { Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

function bytesOf(size: string): number | undefined {
  const match = /^(\d+)(Mi|Gi|Ti)$/.exec(size);
  return match === null ? undefined : Number(match[1]) * (units[match[2] ?? ''] ?? 0);
}

export function parseRegistryOptions(raw: Readonly<Record<string, string | undefined>>): RegistryOptions {
  for (const key of Object.keys(raw)) {
    if (!(registryOptionKeys as readonly string[]).includes(key)) {
      throw new UserError(`unknown option --${key} for the registry layer — it takes ${registryOptionKeys.map((k) => `--${k}`).join(', ')}`);
    }
  }
  const storageSize = raw['storage-size'] ?? registryDefaults.storageSize;
  const bytes = bytesOf(storageSize);
  if (bytes === undefined || bytes < 2 ** 30 || bytes > 2 ** 40) {
    throw new UserError(`--storage-size '${storageSize}' must be a size from 1Gi to 1Ti, e.g. --storage-size 10Gi`);
  }
  const storage = raw.storage ?? registryDefaults.storage;
  if (storage !== 'auto' && storage !== 'claim' && storage !== 'pod') {
    throw new UserError(`--storage '${storage}' must be auto, claim (a PersistentVolumeClaim of the default StorageClass) or pod (an emptyDir of the registry's pod)`);
  }
  return { storage, storageSize };
}
