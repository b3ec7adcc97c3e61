import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../core/errors.ts';
import { findIstioctl } from '../../mesh/istioctl.ts';
import { componentPath, requireComponent } from '../../testenv/components.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));

describe('findIstioctl()', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracelab-istioctl-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  // Another release's istioctl on PATH: what `istioctl version --remote=false --short` prints.
  const other = join(dir, 'istioctl');
  writeFileSync(other, '#!/bin/sh\necho "client version: 1.30.2"\n');
  chmodSync(other, 0o755);

  it('refuses a path that is not an executable, in one line', async () => {
    await assert.rejects(findIstioctl({ explicit: join(dir, 'missing'), artifacts: undefined, cacheBin: dir, path: '' }), (err: unknown) => err instanceof UserError && /^--istioctl \S+missing is not an executable file — build it with/.test(err.message));
  });

  it('refuses another release by name, and takes the pinned one where it comes next', async (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    await assert.rejects(findIstioctl({ explicit: other, artifacts: undefined, cacheBin: '/nonexistent', path: '' }), (err: unknown) => err instanceof UserError && /^istioctl 1\.31\.0 not found \(\S+istioctl is 1\.30\.2\)/.test(err.message));
    // The artifacts' first, then the cache's, then PATH's: PATH's other release is never reached.
    const found = await findIstioctl({ explicit: undefined, artifacts: '/nonexistent', cacheBin: dirname(componentPath('istioctl')), path: dir });
    assert.equal(found, componentPath('istioctl'));
  });

  it('without any: bootstrap stops before touching the host, in one line naming --no-layers', () => {
    const run = spawnSync(process.execPath, [cli, '--dry-run', 'bootstrap', '--node-ip', '127.0.0.1'], { encoding: 'utf8', env: { ...process.env, TRACELAB_CACHE: '/nonexistent', PATH: `${dir}:/usr/bin:/bin`, CI: 'true' } });
    assert.equal(run.status, 2, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0] ?? '', /bootstrap installs the mesh layer, which needs what is missing here: istioctl 1\.31\.0 not found \(\S+ is 1\.30\.2\): .* — or pass --no-layers$/);
  });
});
