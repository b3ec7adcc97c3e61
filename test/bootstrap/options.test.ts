import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../core/errors.ts';
import { bootstrapDefaults, contains, networkOfAddress, overlaps, parseBootstrapOptions, parseCidr, type BootstrapFlags } from '../../bootstrap/options.ts';

const flags: BootstrapFlags = { artifacts: '/srv/artifacts', podSubnet: bootstrapDefaults.podSubnet, serviceSubnet: bootstrapDefaults.serviceSubnet, contextName: 'tracelab', timeout: '10m' };

describe('parseBootstrapOptions()', () => {
  it('takes the pinned versions and the offline image repository', () => {
    const lab = parseBootstrapOptions({ ...flags, nodeLabels: 'tracelab.dev/profile=worker' }, '/home/me/.kube/config');
    assert.equal(lab.kubernetesVersion, 'v1.37.2');
    assert.equal(lab.imageRepository, 'tracelab.local/k8s');
    assert.equal(lab.etcdImageTag, '3.6.16-0');
    assert.deepEqual(lab.nodeLabels, { 'tracelab.dev/profile': 'worker' });
    assert.equal(lab.timeoutMs, 600_000);
    assert.deepEqual(lab.source, { kind: 'artifacts', dir: '/srv/artifacts', hostDir: '/srv/artifacts' });
  });

  it('without --artifacts installs online: registry.k8s.io with kubeadm’s own etcd and CoreDNS tags', () => {
    const lab = parseBootstrapOptions({ ...flags, artifacts: undefined }, '/home/me/.kube/config');
    assert.deepEqual(lab.source, { kind: 'online' });
    assert.equal(lab.imageRepository, 'registry.k8s.io');
    assert.equal(lab.etcdImageTag, undefined);
    assert.equal(lab.corednsImageTag, undefined);
  });

  const bad: [string, Partial<BootstrapFlags>, RegExp, number][] = [
    ['a pod subnet that is not a CIDR', { podSubnet: '10.244.0.0' }, /^--pod-subnet '10\.244\.0\.0' is not an IPv4 CIDR/, 2],
    ['host bits in a CIDR', { serviceSubnet: '10.96.0.1/12' }, /has host bits set — did you mean 10\.96\.0\.0\/12\?/, 2],
    ['pod and Service subnets that overlap', { podSubnet: '10.96.0.0/16' }, /^--pod-subnet 10\.96\.0\.0\/16 overlaps --service-subnet 10\.96\.0\.0\/12/, 2],
    ['a bad node name', { nodeName: 'Lab_1' }, /^--node-name 'Lab_1' is not a valid node name/, 2],
    ['a bad node IP', { nodeIp: '10.0.0' }, /^--node-ip '10\.0\.0' is not an IPv4 address$/, 2],
    ['a bad label', { nodeLabels: 'profile' }, /^--node-labels 'profile' is not a key=value label/, 2],
    ['a bad timeout', { timeout: 'soon' }, /^--timeout 'soon' is not a duration/, 2],
  ];
  for (const [what, change, message, exitCode] of bad) {
    it(`refuses ${what} in one line, before touching the host`, () => {
      assert.throws(
        () => parseBootstrapOptions({ ...flags, ...change }, '/home/me/.kube/config'),
        (err: unknown) => err instanceof UserError && message.test(err.message) && err.exitCode === exitCode && !err.message.includes('\n'),
      );
    });
  }
});

describe('parseCidr(), overlaps(), contains()', () => {
  it('compares networks and addresses', () => {
    assert.ok(overlaps(parseCidr('10.0.0.0/8', 'a'), parseCidr('10.244.0.0/16', 'b')));
    assert.ok(!overlaps(parseCidr('10.244.0.0/16', 'a'), parseCidr('10.96.0.0/12', 'b')));
    assert.ok(contains(parseCidr('10.244.0.0/16', 'a'), '10.244.0.1'));
    assert.ok(!contains(parseCidr('10.244.0.0/16', 'a'), '10.251.0.10'));
    // A pod subnet over a Vagrant VM's NAT network, the classic.
    assert.ok(overlaps(parseCidr('10.0.0.0/16', 'a'), networkOfAddress('10.0.2.15/24')));
    assert.ok(!overlaps(parseCidr('10.244.0.0/16', 'a'), networkOfAddress('10.0.2.15/24')));
  });
});
