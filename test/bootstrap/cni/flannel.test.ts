import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1ClusterRoleBinding, V1ConfigMap, V1Container, V1DaemonSet, V1Namespace, V1PodSpec } from '@kubernetes/client-node';
import { UserError } from '../../../core/errors.ts';
import { layerFootprint } from '../../../core/footprint.ts';
import { applyTier, assertUnique, customResourceTier, refOf } from '../../../core/kube/objects.ts';
import { flannelImageSpecs } from '../../../bootstrap/artifacts/flannel-image.ts';
import { readVersions } from '../../../bootstrap/versions.ts';
import { flannelConflistFile, flannelNamespace, offlineFlannelImage, renderFlannel, upstreamFlannelImage, type FlannelOptions } from '../../../bootstrap/cni/flannel.ts';

const offline: FlannelOptions = { podSubnet: '10.244.0.0/16', image: 'tracelab.local/k8s/flannel:v0.28.10' };

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind it expects
const find = <T extends KubernetesObject>(objects: KubernetesObject[], kind: string): T => {
  const found = objects.find((object) => object.kind === kind);
  assert.ok(found, `a ${kind} is rendered`);
  return found as T;
};
const podSpec = (objects: KubernetesObject[]): V1PodSpec => find<V1DaemonSet>(objects, 'DaemonSet').spec?.template.spec as V1PodSpec;
const flanneld = (objects: KubernetesObject[]): V1Container => podSpec(objects).containers.find((c) => c.name === 'flanneld') as V1Container;
const netConf = (objects: KubernetesObject[]): { Network: string; Backend: { Type: string } } =>
  JSON.parse(find<V1ConfigMap>(objects, 'ConfigMap').data?.['net-conf.json'] ?? '') as { Network: string; Backend: { Type: string } };

describe('renderFlannel()', () => {
  it('is pure and renders each object once, every kind a built-in one the deploy engine orders', () => {
    const objects = renderFlannel(offline);
    assert.deepEqual(objects, renderFlannel(offline));
    assert.deepEqual(
      objects.map((o) => o.kind),
      ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet'],
    );
    assertUnique(objects, 'flannel');
    for (const object of objects) {
      const ref = refOf(object);
      assert.notEqual(applyTier(ref), customResourceTier, `${ref.kind} is a built-in kind`);
      if (ref.kind !== 'Namespace' && ref.kind !== 'ClusterRole' && ref.kind !== 'ClusterRoleBinding') assert.equal(ref.namespace, flannelNamespace);
    }
    const binding = find<V1ClusterRoleBinding>(objects, 'ClusterRoleBinding');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: podSpec(objects).serviceAccountName, namespace: flannelNamespace }]);
  });

  it('puts the pod subnet into net-conf.json with the VXLAN backend', () => {
    assert.deepEqual(netConf(renderFlannel(offline)), { Network: '10.244.0.0/16', EnableNFTables: false, Backend: { Type: 'vxlan' } });
    assert.equal(netConf(renderFlannel({ ...offline, podSubnet: '172.20.0.0/16' })).Network, '172.20.0.0/16');
  });

  it('gives the conflist a flannel plugin delegating to the bridge, then portmap, in a CNI version both plugin builds speak', () => {
    const conflist = JSON.parse(find<V1ConfigMap>(renderFlannel(offline), 'ConfigMap').data?.['cni-conf.json'] ?? '') as { cniVersion: string; plugins: { type: string }[] };
    assert.equal(conflist.cniVersion, '0.4.0');
    assert.deepEqual(
      conflist.plugins.map((p) => p.type),
      ['flannel', 'portmap'],
    );
  });

  it('runs flanneld from the given image with --ip-masq --kube-subnet-mgr on the host network', () => {
    const objects = renderFlannel(offline);
    const container = flanneld(objects);
    assert.equal(container.image, offline.image);
    assert.deepEqual(container.command, ['/opt/bin/flanneld']);
    const args = container.args ?? [];
    assert.ok(args.includes('--ip-masq'));
    assert.ok(args.includes('--kube-subnet-mgr'));
    assert.ok(!args.some((arg) => arg.startsWith('--iface')), 'no interface option unless asked');
    assert.equal(podSpec(objects).hostNetwork, true);
    assert.deepEqual(podSpec(objects).tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual(
      container.env?.map((e) => e.name),
      ['NODE_NAME', 'POD_NAME', 'POD_NAMESPACE', 'POD_IP', 'EVENT_QUEUE_DEPTH', 'CONT_WHEN_CACHE_NOT_READY'],
    );
    assert.deepEqual(container.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
  });

  const interfaces: [string, FlannelOptions['interface'], string][] = [
    ['an interface name', { iface: 'eth1' }, '--iface=eth1'],
    ['an interface address', { iface: '192.168.56.10' }, '--iface=192.168.56.10'],
    ['the node’s registered address (the pod IP of a host-network pod)', { nodeAddress: true }, '--iface=$(POD_IP)'],
    ['an address to reach', { canReach: '192.168.56.2' }, '--iface-can-reach=192.168.56.2'],
  ];
  for (const [what, choice, arg] of interfaces) {
    it(`picks the private-network interface by ${what}`, () => {
      const args = flanneld(renderFlannel({ ...offline, interface: choice })).args ?? [];
      assert.deepEqual(
        args.filter((a) => a.startsWith('--iface')),
        [arg],
      );
    });
  }

  it('labels its namespace Pod Security "privileged" (host network, hostPath, NET_ADMIN)', () => {
    const ns = find<V1Namespace>(renderFlannel(offline), 'Namespace');
    assert.equal(ns.metadata?.name, 'kube-flannel');
    assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
  });

  it('bounds every container, init containers included', () => {
    const objects = renderFlannel(offline);
    for (const container of [...podSpec(objects).containers, ...(podSpec(objects).initContainers ?? [])]) {
      for (const kind of ['requests', 'limits'] as const) {
        assert.ok(container.resources?.[kind]?.cpu, `${container.name} has a CPU ${kind}`);
        assert.ok(container.resources[kind].memory, `${container.name} has a memory ${kind}`);
      }
      assert.equal(container.imagePullPolicy, 'IfNotPresent');
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
    }
    const footprint = layerFootprint('flannel', objects, { nodes: 3 });
    assert.deepEqual(footprint.unbounded, []);
    assert.deepEqual(footprint.totals, { cpuRequest: 300, cpuLimit: 900, memoryRequest: 3 * 50 * 2 ** 20, memoryLimit: 3 * 128 * 2 ** 20 });
    const custom = { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } };
    assert.deepEqual(flanneld(renderFlannel({ ...offline, resources: custom })).resources, custom);
  });

  it('installs the plugin and the conflist with the image’s install-conf, or with cp from upstream’s plugin image', () => {
    const [plugin, conf] = podSpec(renderFlannel(offline)).initContainers ?? [];
    assert.deepEqual(plugin?.command, ['/opt/bin/install-conf', '/flannel', '/opt/cni/bin/flannel']);
    assert.equal(plugin.image, offline.image);
    assert.deepEqual(conf?.command, ['/opt/bin/install-conf', '/etc/flannel/cni-conf.json', flannelConflistFile]);

    const online = renderFlannel({ podSubnet: '10.244.0.0/16', image: upstreamFlannelImage('v0.28.10'), cniPluginImage: 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3' });
    const [upstreamPlugin, upstreamConf] = podSpec(online).initContainers ?? [];
    assert.equal(upstreamPlugin?.image, 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3');
    assert.deepEqual(upstreamPlugin.command, ['cp', '-f', '/flannel', '/opt/cni/bin/flannel']);
    assert.equal(upstreamConf?.image, 'ghcr.io/flannel-io/flannel:v0.28.10');
    assert.equal(flanneld(online).image, 'ghcr.io/flannel-io/flannel:v0.28.10');
  });

  it('rolls the pods when the config changes', () => {
    const hash = (options: FlannelOptions): string | undefined => find<V1DaemonSet>(renderFlannel(options), 'DaemonSet').spec?.template.metadata?.annotations?.['tracelab.dev/config-hash'];
    assert.notEqual(hash(offline), hash({ ...offline, podSubnet: '10.245.0.0/16' }));
  });

  const bad: [string, Partial<FlannelOptions>, RegExp][] = [
    ['a pod subnet that is not a CIDR', { podSubnet: '10.244.0.0' }, /^podSubnet '10\.244\.0\.0' is not an IPv4 CIDR/],
    ['an image without a tag', { image: 'tracelab.local/k8s/flannel' }, /^flannel image 'tracelab\.local\/k8s\/flannel' is not a pinned image reference/],
    ['a registry port but no tag', { image: 'localhost:5000/flannel' }, /is not a pinned image reference/],
    ['an interface with a space', { interface: { iface: 'eth 1' } }, /^flannel interface 'eth 1' is not an interface name or address/],
    ['a reach target that is not an address', { interface: { canReach: 'control-plane' } }, /^flannel --iface-can-reach 'control-plane' is not an IP address/],
  ];
  for (const [what, change, message] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => renderFlannel({ ...offline, ...change }), (err: unknown) => err instanceof UserError && message.test(err.message));
    });
  }

  it('accepts a digest or a registry with a port', () => {
    renderFlannel({ ...offline, image: `localhost:5000/flannel@sha256:${'a'.repeat(64)}` });
    renderFlannel({ ...offline, image: 'localhost:5000/flannel:v0.28.10' });
  });
});

describe('flannelImageSpecs()', () => {
  it('names the image as the offline render expects and holds every file the DaemonSet runs', async (t) => {
    if (!existsSync('/usr/sbin/xtables-nft-multi')) {
      const message = 'needs the host’s iptables (apt-get install iptables; scripts/setup.sh --test installs it)';
      if (process.env.CI === 'true') throw new Error(message);
      t.skip(message);
      return;
    }
    const binDir = await mkdtemp(join(tmpdir(), 'tracelab-flannel-'));
    try {
      await mkdir(join(binDir, 'cni'));
      for (const name of ['flanneld', 'flannel-install-conf', 'cni/flannel']) await writeFile(join(binDir, name), `#!/bin/true ${name}\n`);
      const specs = await flannelImageSpecs(binDir);
      assert.equal(specs.length, 1);
      const [spec] = specs;
      assert.equal(spec?.name, offlineFlannelImage(readVersions().flannel));
      const paths = new Set(spec.files.map((file) => `/${file.path}`));
      const objects = renderFlannel({ podSubnet: '10.244.0.0/16', image: spec.name });
      for (const container of [...podSpec(objects).containers, ...(podSpec(objects).initContainers ?? [])]) {
        for (const path of [...(container.command ?? []).slice(0, 1), ...(container.command ?? []).filter((arg) => arg === '/flannel')]) {
          assert.ok(paths.has(path), `${container.name}: ${path} is in the image`);
        }
      }
      for (const program of ['/usr/sbin/iptables', '/usr/sbin/iptables-restore', '/usr/sbin/ip6tables']) assert.ok(paths.has(program), `${program} is in the image`);
      assert.deepEqual(spec.config.Entrypoint, ['/opt/bin/flanneld']);
    } finally {
      await rm(binDir, { recursive: true, force: true });
    }
  });
});
