import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { gatherHostFacts, parseHostFacts } from '../../bootstrap/host-facts.ts';
import { localExecutor } from '../../bootstrap/executors/local.ts';

const sample = `==os-release==
PRETTY_NAME="Ubuntu 24.04.1 LTS"
ID=ubuntu
ID_LIKE=debian
VERSION_ID="24.04"
==cpus==
4
==meminfo==
MemTotal:        8048576 kB
==swaps==
/swap.img                               file		4194300		0		-2
==tcp==
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:9C40 0100007F:192B 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
==cgroupfs==
cgroup2fs
==epoch==
1000040
==ip_forward==
0
==modules==
overlay
nf_conntrack
==oom==
no
==systemd==
yes
==kernel==
6.8.0-45-generic
==machine==
aarch64
==hostname==
lab1
==addresses==
10.0.2.15/24
192.168.56.10/24
`;

describe('parseHostFacts()', () => {
  it('reads every section of the probe script', () => {
    const facts = parseHostFacts(sample, 1_000_000);
    assert.deepEqual(facts.os, { id: 'ubuntu', versionId: '24.04', idLike: ['debian'] });
    assert.equal(facts.cpus, 4);
    assert.equal(facts.memoryBytes, 8048576 * 1024);
    assert.deepEqual(facts.swapDevices, ['/swap.img']);
    // LISTEN (0A) only: 22 and 6443, not the established connection.
    assert.deepEqual([...facts.listeningPorts].sort((a, b) => a - b), [22, 6443]);
    assert.equal(facts.cgroupVersion, 2);
    assert.equal(facts.clockSkewSeconds, 40);
    assert.equal(facts.ipForward, false);
    assert.deepEqual([...facts.modules], ['overlay']);
    assert.equal(facts.canLowerOomScoreAdj, false);
    assert.equal(facts.systemd, true);
    assert.equal(facts.kernelRelease, '6.8.0-45-generic');
    assert.equal(facts.machine, 'aarch64');
    assert.equal(facts.hostname, 'lab1');
    assert.deepEqual(facts.addresses, ['10.0.2.15/24', '192.168.56.10/24']);
  });
});

describe('gatherHostFacts() through the local executor', () => {
  it('reads this machine as it is', async () => {
    const facts = await gatherHostFacts(localExecutor());
    assert.equal(facts.cpus, cpus().length);
    const osId = /^ID=(.*)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]?.replace(/"/g, '');
    assert.equal(facts.os.id, osId);
    assert.ok(facts.memoryBytes > 2 ** 30);
    assert.ok(Math.abs(facts.clockSkewSeconds) <= 1);
    assert.equal(facts.ipForward, readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1');
  });
});
