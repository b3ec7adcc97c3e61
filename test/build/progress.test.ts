import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BuildLog } from '../../build/progress.ts';

const log = `#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 1.2kB done
#1 DONE 0.0s
#3 importing cache manifest from registry.tracelab-registry.svc.cluster.local:5000/tracelab/cache:backend
#3 ERROR: failed to configure registry cache importer: registry.tracelab-registry.svc.cluster.local:5000/tracelab/cache:backend: not found
#5 [build 2/7] RUN case "$SERVICE" in frontend|backend) ;; esac
#5 CACHED
#8 [build 5/7] RUN npm ci --omit=dev --offline
#8 0.512 npm error code ENOTCACHED
#8 0.513 npm error request to https://registry.npmjs.org/express failed: cache mode is 'only-if-cached'
#8 ERROR: process "/bin/sh -c npm ci --omit=dev --offline" did not complete successfully: exit code: 1
------
error: failed to solve: process did not complete successfully`;

describe('BuildLog', () => {
  it('names each Dockerfile step as it starts, and the step that failed with its own output (not the cache that was not there yet)', () => {
    const read = new BuildLog();
    const started = log.split('\n').map((line) => read.read(line)).filter((title) => title !== undefined);
    assert.deepEqual(started, ['[internal] load build definition from Dockerfile', '[build 2/7] RUN case "$SERVICE" in frontend|backend) ;; esac', '[build 5/7] RUN npm ci --omit=dev --offline']);
    assert.equal(read.failedStep, '[build 5/7] RUN npm ci --omit=dev --offline');
    assert.equal(read.failure, 'process "/bin/sh -c npm ci --omit=dev --offline" did not complete successfully: exit code: 1');
    assert.deepEqual(read.tail(), ['npm error code ENOTCACHED', "npm error request to https://registry.npmjs.org/express failed: cache mode is 'only-if-cached'"]);
  });

  it('without a failed step, the tail is the lines outside any step', () => {
    const read = new BuildLog();
    for (const line of ['tar: invalid magic', 'tar: short read']) read.read(line);
    assert.equal(read.failedStep, undefined);
    assert.deepEqual(read.tail(), ['tar: invalid magic', 'tar: short read']);
  });
});
