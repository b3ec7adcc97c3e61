import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostFacts } from '../../bootstrap/host-facts.ts';
import { hostPrepCommands, renderHostFiles, sysctlFile } from '../../bootstrap/host-prep.ts';

const facts = (change: Partial<HostFacts>): HostFacts => ({
  os: { id: 'debian', versionId: '12', idLike: [] },
  cpus: 2,
  memoryBytes: 8 * 2 ** 30,
  swapDevices: [],
  listeningPorts: new Set(),
  cgroupVersion: 2,
  clockSkewSeconds: 0,
  ipForward: false,
  modules: new Set(['overlay', 'br_netfilter']),
  canLowerOomScoreAdj: true,
  systemd: true,
  kernelRelease: '6.1.0',
  machine: 'x86_64',
  hostname: 'lab1',
  addresses: ['10.251.0.10/24'],
  ...change,
});

describe('host prep', () => {
  it('persists modules and sysctls in files reset can remove', () => {
    const files = renderHostFiles();
    assert.deepEqual(files.map((f) => f.path), ['/etc/modules-load.d/tracelab.conf', sysctlFile]);
    assert.match(files[1]?.content ?? '', /^net\.ipv4\.ip_forward = 1$/m);
    assert.match(files[0]?.content ?? '', /^br_netfilter$/m);
  });

  it('loads only missing modules and turns swap off persistently when there is swap', () => {
    assert.deepEqual(hostPrepCommands(facts({})), [['sysctl', '-q', '-p', sysctlFile]]);
    const commands = hostPrepCommands(facts({ modules: new Set(['overlay']), swapDevices: ['/swapfile'] }));
    assert.deepEqual(commands.map((c) => c[0]), ['modprobe', 'sysctl', 'swapoff', 'sed']);
    assert.deepEqual(commands[0], ['modprobe', '-a', 'br_netfilter']);
  });

  it('comments out fstab swap lines with a marker, leaving other lines alone', () => {
    const sed = hostPrepCommands(facts({ swapDevices: ['/swapfile'] })).find((c) => c[0] === 'sed') ?? [];
    const fstab = join(mkdtempSync(join(tmpdir(), 'fstab-')), 'fstab');
    writeFileSync(fstab, 'UUID=abc / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n# /old none swap sw 0 0\n');
    const result = spawnSync(sed[0] ?? 'sed', [...sed.slice(1, -1), fstab], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(fstab, 'utf8'), 'UUID=abc / ext4 defaults 0 1\n#tracelab-swap-off# /swapfile none swap sw 0 0\n# /old none swap sw 0 0\n');
  });
});
