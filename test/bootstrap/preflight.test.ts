import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HostFacts } from '../../bootstrap/host-facts.ts';
import { failures, judgeHost, standaloneRequirements } from '../../bootstrap/preflight.ts';

const healthy: HostFacts = {
  os: { id: 'debian', versionId: '12', idLike: [] },
  cpus: 2,
  memoryBytes: 8 * 2 ** 30,
  swapDevices: [],
  listeningPorts: new Set([22]),
  cgroupVersion: 2,
  clockSkewSeconds: 0,
  ipForward: true,
  modules: new Set(['overlay', 'br_netfilter']),
  canLowerOomScoreAdj: true,
  systemd: true,
  kernelRelease: '6.1.0-30-amd64',
  machine: 'x86_64',
  hostname: 'lab1',
  addresses: ['10.251.0.10/24'],
};

describe('judgeHost()', () => {
  it('passes a healthy host with every check ok', () => {
    const findings = judgeHost(healthy, standaloneRequirements);
    assert.deepEqual(findings.filter((f) => f.severity !== 'ok'), []);
  });

  const failing: [string, Partial<HostFacts>, RegExp][] = [
    ['an unsupported OS', { os: { id: 'alpine', versionId: '3.20', idLike: [] } }, /^alpine 3\.20 is not a supported OS — use Debian\/Ubuntu or a RHEL-family host$/],
    ['one CPU', { cpus: 1 }, /^1 CPU — kubeadm needs at least 2: give the host \(or VM\) more CPUs$/],
    ['too little memory', { memoryBytes: 2 ** 30 }, /^1\.0 GiB of memory — the lab needs at least 2\.0 GiB/],
    ['a busy API port', { listeningPorts: new Set([6443, 10250]) }, /^ports 6443, 10250 already in use — stop what listens there/],
    ['a skewed clock', { clockSkewSeconds: -120 }, /clock is -120s off .* sync it/],
  ];
  for (const [what, change, message] of failing) {
    it(`fails ${what}, naming the fix`, () => {
      const found = failures(judgeHost({ ...healthy, ...change }, standaloneRequirements));
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.match(found[0]?.message ?? '', message);
    });
  }

  it('accepts a RHEL-family host by ID_LIKE', () => {
    assert.deepEqual(failures(judgeHost({ ...healthy, os: { id: 'ol', versionId: '9', idLike: ['fedora'] } }, standaloneRequirements)), []);
  });

  it('leaves swap, ip_forward and modules to host prep, or fails them when it will not run', () => {
    const unprepared = { ...healthy, swapDevices: ['/swapfile'], ipForward: false, modules: new Set<string>() };
    assert.deepEqual(failures(judgeHost(unprepared, standaloneRequirements)), []);
    const checks = failures(judgeHost(unprepared, { ...standaloneRequirements, hostPrepWillFix: false })).map((f) => f.check);
    assert.deepEqual(checks, ['swap', 'ip_forward', 'modules']);
  });

  it('warns about cgroup v1 and a host that cannot lower oom_score_adj, naming both', () => {
    const warnings = judgeHost({ ...healthy, cgroupVersion: 1, canLowerOomScoreAdj: false }, standaloneRequirements).filter((f) => f.severity === 'warn');
    assert.deepEqual(warnings.map((w) => w.check), ['cgroup', 'oom_score_adj']);
    assert.match(warnings[0]?.message ?? '', /failCgroupV1: false/);
    assert.match(warnings[1]?.message ?? '', /restrict_oom_score_adj = true/);
  });

  it('accepts its own ports on a re-run of a node it made', () => {
    assert.deepEqual(failures(judgeHost({ ...healthy, listeningPorts: new Set([6443]) }, { ...standaloneRequirements, alreadyInitialized: true })), []);
  });
});
