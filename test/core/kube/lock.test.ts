import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { holderIdentity, leaseExpiry } from '../../../core/kube/lock.ts';

describe('leaseExpiry()', () => {
  it('is the last renewal plus the lease duration', () => {
    const lease = { spec: { renewTime: '2026-12-01T10:00:00.000000Z', leaseDurationSeconds: 30 } };
    assert.equal(leaseExpiry(lease), Date.parse('2026-12-01T10:00:30Z'));
  });

  it('is 0 for a lease without a time: free to take', () => {
    assert.equal(leaseExpiry({ spec: {} }), 0);
  });
});

describe('holderIdentity()', () => {
  it('names user, host, pid and command', () => {
    assert.match(holderIdentity('up demo'), new RegExp(`^.+@.+ pid ${process.pid}: up demo$`));
  });
});

describe('holderIsGone()', () => {
  it('is true only for a holder process on this host that no longer runs', async () => {
    const { hostname } = await import('node:os');
    const { spawnSync } = await import('node:child_process');
    const { holderIsGone } = await import('../../../core/kube/lock.ts');
    const finished = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    assert.equal(holderIsGone(`root@${hostname()} pid ${finished.stdout}: up demo`), true);
    assert.equal(holderIsGone(`root@${hostname()} pid ${process.pid}: up demo`), false);
    assert.equal(holderIsGone(`root@another-host pid ${finished.stdout}: up demo`), false);
  });
});
