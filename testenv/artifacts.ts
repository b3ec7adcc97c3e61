import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheBin } from '../bootstrap/artifacts/sources.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));

/** What `tracelab artifacts build` puts in its directory comes from these: the pins and the code that assembles the images. */
const inputs = ['testenv/components/versions.env', 'bootstrap', 'build', 'registry', 'storage', 'monitoring', 'demo', 'mesh'];

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() || entry.name.endsWith('.ts') || entry.name.endsWith('.env'))
    .flatMap((entry) => filesUnder(join(path, entry.name)))
    .sort();
}

/**
 * The artifacts directory the real-node tests bootstrap from, shared between them in the
 * component cache: `tracelab artifacts build` into it is a no-op once it is built, so each test
 * file pays the ~40 s assembly only when the inputs changed. Named by a digest of those inputs;
 * a directory of other inputs is removed. test/bootstrap/standalone.test.ts keeps its own, since
 * it tests the first build.
 */
export function sharedArtifactsDir(cache = process.env.TRACELAB_CACHE): string {
  const digest = createHash('sha256');
  for (const file of inputs.flatMap((input) => filesUnder(join(repo, input)))) digest.update(`${file.slice(repo.length)}\0`).update(readFileSync(file));
  const parent = join(dirname(cacheBin(cache)), 'test-artifacts');
  const name = digest.digest('hex').slice(0, 16);
  try {
    for (const other of readdirSync(parent)) if (other !== name) rmSync(join(parent, other), { recursive: true, force: true });
  } catch {
    // No shared artifacts yet.
  }
  return join(parent, name);
}
