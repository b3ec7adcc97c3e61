import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the Go-built components are cached: `<cache>/bin`, the cache being $TRACELAB_CACHE or ~/.cache/tracelab. */
export function cacheBin(cache: string | undefined): string {
  return join(cache !== undefined && cache !== '' ? cache : join(homedir(), '.cache', 'tracelab'), 'bin');
}
