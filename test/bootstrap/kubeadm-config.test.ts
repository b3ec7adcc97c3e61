import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { containerdSocket, kubeadmConfigHeader, kubeadmConfigYaml, renderKubeadmInitConfig, type KubeadmConfigInput } from '../../bootstrap/kubeadm-config.ts';

const input: KubeadmConfigInput = {
  kubernetesVersion: 'v1.37.2',
  nodeName: 'lab1',
  nodeIP: '10.251.0.10',
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  imageRepository: 'registry.k8s.io',
  etcdImageTag: '3.6.16-0',
  corednsImageTag: 'v1.14.6',
  cgroupDriver: 'systemd',
  cgroupV1: false,
  schedulePodsOnControlPlane: true,
  criSocket: containerdSocket,
};

type Doc = Record<string, unknown> & { nodeRegistration?: Record<string, unknown> };
const byKind = (docs: Record<string, unknown>[]): Partial<Record<string, Doc>> => Object.fromEntries(docs.map((d) => [String(d.kind), d as Doc]));

describe('renderKubeadmInitConfig()', () => {
  it('sets the advertise address and the node IP explicitly, never leaving them to /etc/hosts', () => {
    const docs = byKind(renderKubeadmInitConfig(input));
    assert.deepEqual(docs.InitConfiguration?.localAPIEndpoint, { advertiseAddress: '10.251.0.10', bindPort: 6443 });
    assert.deepEqual(docs.InitConfiguration.nodeRegistration?.kubeletExtraArgs, [{ name: 'node-ip', value: '10.251.0.10' }]);
    assert.equal(docs.ClusterConfiguration?.controlPlaneEndpoint, '10.251.0.10:6443');
  });

  it('untaints a standalone control plane and keeps the taint on a dedicated one', () => {
    assert.deepEqual(byKind(renderKubeadmInitConfig(input)).InitConfiguration?.nodeRegistration?.taints, []);
    assert.equal(byKind(renderKubeadmInitConfig({ ...input, schedulePodsOnControlPlane: false })).InitConfiguration?.nodeRegistration?.taints, undefined);
  });

  const cgroupCases: [string, Partial<KubeadmConfigInput>, Record<string, unknown>, unknown][] = [
    ['cgroup v2 with systemd', {}, { cgroupDriver: 'systemd' }, undefined],
    ['cgroup v1 (deprecated)', { cgroupV1: true, cgroupDriver: 'cgroupfs' }, { cgroupDriver: 'cgroupfs', failCgroupV1: false }, ['SystemVerification']],
  ];
  for (const [what, change, kubelet, ignored] of cgroupCases) {
    it(`configures the kubelet for ${what}`, () => {
      const docs = byKind(renderKubeadmInitConfig({ ...input, ...change }));
      assert.deepEqual(docs.KubeletConfiguration, { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', ...kubelet });
      assert.deepEqual(docs.InitConfiguration?.nodeRegistration?.ignorePreflightErrors, ignored);
    });
  }

  it('pins every image: repository, etcd and CoreDNS tags', () => {
    const docs = byKind(renderKubeadmInitConfig({ ...input, imageRepository: 'lab.local/k8s' }));
    assert.equal(docs.ClusterConfiguration?.imageRepository, 'lab.local/k8s');
    assert.deepEqual(docs.ClusterConfiguration.etcd, { local: { imageTag: '3.6.16-0' } });
    assert.deepEqual(docs.ClusterConfiguration.dns, { imageTag: 'v1.14.6' });
    assert.equal(docs.InitConfiguration?.nodeRegistration?.imagePullPolicy, 'IfNotPresent');
  });

  it('keeps kube-proxy from changing the host’s conntrack settings', () => {
    assert.deepEqual(byKind(renderKubeadmInitConfig(input)).KubeProxyConfiguration?.conntrack, { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' });
  });

  it('writes four YAML documents under a generator header', () => {
    const text = kubeadmConfigYaml(renderKubeadmInitConfig(input));
    assert.ok(text.startsWith(kubeadmConfigHeader));
    const parsed = parseAllDocuments(text).map((d) => d.toJSON() as Record<string, unknown>);
    assert.deepEqual(parsed.map((d) => d.kind), ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration', 'KubeProxyConfiguration']);
  });
});
