import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the Go-built components are cached: `$TRACELAB_CACHE/bin`, default ~/.cache/tracelab/bin. */
export function cacheBin(cache = process.env.TRACELAB_CACHE): string {
  return join(cache !== undefined && cache !== '' ? cache : join(homedir(), '.cache', 'tracelab'), 'bin');
}
