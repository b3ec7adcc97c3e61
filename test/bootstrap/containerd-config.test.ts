import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labRegistryHostsFile, renderContainerdConfig, renderLabRegistryHosts } from '../../bootstrap/containerd-config.ts';

describe('renderContainerdConfig()', () => {
  const input = { systemdCgroup: true, restrictOomScoreAdj: false, sandboxImage: 'registry.k8s.io/pause:3.10.1', cniBinDir: '/opt/cni/bin' };

  it('is a containerd 2 (version 3) config with the systemd driver on a systemd cgroup v2 host', () => {
    const text = renderContainerdConfig(input);
    assert.match(text, /^version = 3$/m);
    assert.match(text, /\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\n {2}SystemdCgroup = true/);
    assert.match(text, /restrict_oom_score_adj = false/);
    assert.doesNotMatch(text, /io\.containerd\.grpc\.v1\.cri/, 'no containerd 1.x plugin names');
  });

  it('uses cgroupfs and restricts oom_score_adj on a container-like cgroup v1 host', () => {
    const text = renderContainerdConfig({ ...input, systemdCgroup: false, restrictOomScoreAdj: true });
    assert.match(text, /SystemdCgroup = false/);
    assert.match(text, /restrict_oom_score_adj = true/);
  });

  it('pins the sandbox image and points registries at hosts.toml files', () => {
    const text = renderContainerdConfig(input);
    assert.match(text, /\[plugins\.'io\.containerd\.cri\.v1\.images'\.pinned_images\]\n {2}sandbox = "registry\.k8s\.io\/pause:3\.10\.1"/);
    assert.match(text, /config_path = "\/etc\/containerd\/certs\.d"/);
    assert.match(text, /bin_dirs = \["\/opt\/cni\/bin"\]/);
  });
});

describe('renderLabRegistryHosts()', () => {
  it("sends the lab registry's name to this node's own address at the NodePort, over plain HTTP, for pulls only", () => {
    const text = renderLabRegistryHosts('10.0.0.11');
    assert.match(text, /^server = "http:\/\/10\.0\.0\.11:30500"$/m);
    assert.match(text, /^\[host\."http:\/\/10\.0\.0\.11:30500"\]\n {2}capabilities = \["pull", "resolve"\]$/m);
    assert.equal(labRegistryHostsFile, '/etc/containerd/certs.d/tracelab-registry:5000/hosts.toml');
  });

  it('brackets an IPv6 node address', () => {
    assert.match(renderLabRegistryHosts('fd00::11'), /^server = "http:\/\/\[fd00::11\]:30500"$/m);
  });
});
