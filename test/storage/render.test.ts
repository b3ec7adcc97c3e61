/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; the rendered literals are read back as them */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1ClusterRole, V1ConfigMap, V1Deployment, V1Namespace, V1Pod, V1Role, V1StorageClass } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { UserError } from '../../core/errors.ts';
import { parseStorageOptions, storageDefaults } from '../../storage/options.ts';
import { localPathProvisionerImage, provisionerName, renderStorage, storageClassName, storageNamespace } from '../../storage/render.ts';
import { componentVersions } from '../../testenv/components.ts';

function find(objects: KubernetesObject[], kind: string, name: string): KubernetesObject {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  assert.ok(found, `${kind} ${name} rendered`);
  return found;
}

const defaults = parseStorageOptions({});

describe('parseStorageOptions()', () => {
  it('defaults to /var/lib/tracelab/local-path as the default class, and normalises the path', () => {
    assert.deepEqual(defaults, { path: '/var/lib/tracelab/local-path', defaultClass: true });
    assert.deepEqual(parseStorageOptions({ path: '/srv//volumes/', 'default-class': 'false' }), { path: '/srv/volumes', defaultClass: false });
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ path: 'volumes' }, /^--path 'volumes' must be an absolute directory/],
    [{ path: '/srv/../etc' }, /^--path '\/srv\/\.\.\/etc' must be an absolute directory .* without '\.' or '\.\.' parts/],
    [{ path: '/srv/my volumes' }, /^--path '\/srv\/my volumes' must be an absolute directory of letters/],
    [{ path: '/' }, /^--path '\/' is the root directory: volumes would be made and removed among the node's own files/],
    [{ path: '/var/lib/kubelet/volumes' }, /^--path '\/var\/lib\/kubelet\/volumes' is or holds the system directory \/var\/lib\/kubelet/],
    [{ path: '/var' }, /^--path '\/var' is or holds the system directory \/var\/lib\/kubelet/],
    [{ path: '/tmp/' }, /^--path '\/tmp\/' is a directory others share: .* e\.g\. --path \/tmp\/tracelab-volumes$/],
    [{ path: '/home' }, /^--path '\/home' is a directory others share/],
    [{ 'default-class': 'yes' }, /^--default-class 'yes' is not true or false/],
    [{ size: '1Gi' }, /^unknown option --size for the storage layer — it takes --path, --default-class$/],
  ];
  for (const [raw, message] of bad) {
    it(`refuses ${JSON.stringify(raw)} in one line`, () => {
      assert.throws(
        () => parseStorageOptions(raw),
        (err: unknown) => err instanceof UserError && err.exitCode === 2 && !err.message.includes('\n') && message.test(err.message),
      );
    });
  }
});

describe('renderStorage()', () => {
  const objects = renderStorage(defaults);

  it('installs tracelab-local-path as the default class: Delete, WaitForFirstConsumer, served by tracelab\'s own provisioner name', () => {
    const storageClass = find(objects, 'StorageClass', storageClassName) as V1StorageClass;
    assert.equal(storageClass.provisioner, provisionerName);
    assert.notEqual(storageClass.provisioner, 'rancher.io/local-path', "never the name another install's provisioner answers to");
    assert.equal(storageClass.reclaimPolicy, 'Delete');
    assert.equal(storageClass.volumeBindingMode, 'WaitForFirstConsumer');
    assert.equal(storageClass.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'], 'true');
    const notDefault = find(renderStorage({ ...defaults, defaultClass: false }), 'StorageClass', storageClassName) as V1StorageClass;
    assert.equal(notDefault.metadata?.annotations, undefined);
  });

  it('runs the provisioner restricted: non-root, read-only root, no capabilities, limits with ephemeral storage, one replica replaced rather than rolled', () => {
    const deployment = find(objects, 'Deployment', 'local-path-provisioner') as V1Deployment;
    assert.equal(deployment.metadata?.namespace, storageNamespace);
    assert.equal(deployment.spec?.strategy?.type, 'Recreate');
    const pod = deployment.spec.template.spec;
    const container = pod?.containers[0];
    assert.equal(container?.image, localPathProvisionerImage);
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities?.drop, ['ALL']);
    assert.ok(container.resources?.limits?.['ephemeral-storage'] !== undefined && container.resources.requests?.['ephemeral-storage'] !== undefined);
    // Its config from the mounted files, under tracelab's provisioner name, not upstream's.
    assert.deepEqual(container.command?.slice(0, 4), ['local-path-provisioner', 'start', '--config', '/etc/config/config.json']);
    assert.equal(container.command[container.command.indexOf('--provisioner-name') + 1], provisionerName);
    assert.equal(container.command[container.command.indexOf('--helper-pod-file') + 1], '/etc/config/helperPod.yaml');
  });

  it('enforces privileged on its namespace only because the helper pods mount the node\'s directory; audits and warns restricted', () => {
    const labels = (find(objects, 'Namespace', storageNamespace) as V1Namespace).metadata?.labels;
    assert.equal(labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.equal(labels['pod-security.kubernetes.io/audit'], 'restricted');
    assert.equal(labels['pod-security.kubernetes.io/warn'], 'restricted');
  });

  it('gives the config keys the provisioner reads: config.json with the path, setup, teardown and a hardened helperPod.yaml', () => {
    const data = (find(objects, 'ConfigMap', 'local-path-config') as V1ConfigMap).data ?? {};
    assert.deepEqual(Object.keys(data).sort(), ['config.json', 'helperPod.yaml', 'setup', 'teardown']);
    assert.deepEqual(JSON.parse(data['config.json'] ?? ''), { nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: [storageDefaults.path] }] });
    const elsewhere = (find(renderStorage({ path: '/srv/volumes', defaultClass: true }), 'ConfigMap', 'local-path-config') as V1ConfigMap).data?.['config.json'] ?? '';
    assert.deepEqual((JSON.parse(elsewhere) as { nodePathMap: { paths: string[] }[] }).nodePathMap[0]?.paths, ['/srv/volumes']);
    assert.match(data.setup ?? '', /^#!\/bin\/sh\n[^]*mkdir -p "\$VOL_DIR"/);
    assert.match(data.teardown ?? '', /^#!\/bin\/sh\n[^]*rm -rf -- "\$VOL_DIR"/);
    const helper = parse(data['helperPod.yaml'] ?? '') as V1Pod;
    assert.equal(helper.spec?.automountServiceAccountToken, false, 'the provisioner gives it its own ServiceAccount: no token in it');
    const container = helper.spec.containers[0];
    assert.equal(container?.name, 'helper-pod', 'the provisioner reads the log of the container of this name');
    assert.equal(container.image, localPathProvisionerImage, 'the same image: nothing more to pin or carry');
    assert.deepEqual(container.securityContext?.capabilities, { drop: ['ALL'], add: ['DAC_OVERRIDE', 'FOWNER'] });
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.ok(container.resources?.limits?.['ephemeral-storage'] !== undefined);
  });

  it('grants the least the provisioner uses: no ConfigMap or Secret reads, pods only in its own namespace', () => {
    const clusterRole = find(objects, 'ClusterRole', 'tracelab-local-path-provisioner') as V1ClusterRole;
    const clusterRules = Object.fromEntries((clusterRole.rules ?? []).map((rule) => [rule.resources?.join(',') ?? '', rule.verbs.join(',')]));
    assert.deepEqual(clusterRules, {
      persistentvolumeclaims: 'get,list,watch',
      persistentvolumes: 'get,list,watch,create,patch,delete',
      storageclasses: 'get,list,watch',
      nodes: 'get',
      events: 'create,patch',
    });
    const role = find(objects, 'Role', 'local-path-provisioner') as V1Role;
    assert.equal(role.metadata?.namespace, storageNamespace);
    assert.deepEqual((role.rules ?? []).map((rule) => `${rule.resources?.join(',') ?? ''}: ${rule.verbs.join(',')}`), ['pods: get,create,delete', 'pods/log: get']);
  });

  it('denies all traffic in its namespace but the provisioner\'s to the API server', () => {
    const policies = objects.filter((object) => object.kind === 'NetworkPolicy') as (KubernetesObject & { spec: { podSelector: object; policyTypes: string[]; egress?: { ports: { port: number }[] }[] } })[];
    assert.deepEqual(policies.map((p) => p.metadata?.name), ['default-deny', 'allow-api-server']);
    assert.deepEqual(policies[0]?.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    assert.deepEqual(policies[1]?.spec.egress?.[0]?.ports.map((p) => p.port), [6443, 443]);
  });

  it('pins the image of the version the tests build (testenv/components/versions.env)', () => {
    assert.equal(localPathProvisionerImage, `docker.io/rancher/local-path-provisioner:${componentVersions().LOCAL_PATH_PROVISIONER_VERSION ?? ''}`);
  });

  it('is pure: the same options give the same objects', () => {
    assert.deepEqual(renderStorage(defaults), objects);
  });
});
