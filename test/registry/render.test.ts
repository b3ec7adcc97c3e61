/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; the rendered literals are read back as them */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Deployment, V1Namespace, V1Service } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { readVersions } from '../../bootstrap/versions.ts';
import { buildkitImage } from '../../build/builders/buildkit.ts';
import { registryConfig, registryImage, renderRegistry } from '../../registry/render.ts';

function find(objects: KubernetesObject[], kind: string, name: string): KubernetesObject {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  assert.ok(found, `${kind} ${name} rendered`);
  return found;
}

describe('renderRegistry()', () => {
  it('runs distribution v3 in a restricted namespace, behind a NodePort every node pulls through', () => {
    const objects = renderRegistry({ storage: 'claim', storageSize: '5Gi' });
    assert.equal((find(objects, 'Namespace', 'tracelab-registry') as V1Namespace).metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    const service = find(objects, 'Service', 'registry') as V1Service;
    assert.equal(service.spec?.type, 'NodePort');
    assert.deepEqual(service.spec.ports?.map((port) => [port.port, port.nodePort]), [[5000, 30500]]);
    const pod = (find(objects, 'Deployment', 'registry') as V1Deployment).spec?.template.spec;
    const container = pod?.containers[0];
    assert.equal(container?.image, registryImage);
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.ok(container.resources?.limits?.memory !== undefined && container.resources.limits['ephemeral-storage'] !== undefined);
    assert.notDeepEqual(container.livenessProbe, container.readinessProbe);
  });

  it('keeps blobs on a claim of the default StorageClass, or in a bounded emptyDir with --storage pod', () => {
    const claimed = renderRegistry({ storage: 'claim', storageSize: '8Gi' });
    assert.equal((find(claimed, 'PersistentVolumeClaim', 'registry-data') as KubernetesObject & { spec: { resources: { requests: { storage: string } } } }).spec.resources.requests.storage, '8Gi');
    const inPod = renderRegistry({ storage: 'pod', storageSize: '8Gi' });
    assert.equal(inPod.some((object) => object.kind === 'PersistentVolumeClaim'), false);
    const volume = (find(inPod, 'Deployment', 'registry') as V1Deployment).spec?.template.spec?.volumes?.find((v) => v.name === 'data');
    assert.deepEqual(volume?.emptyDir, { sizeLimit: '8Gi' });
    // The blobs count against the pod's ephemeral storage: a smaller limit would get it evicted.
    const limits = (find(inPod, 'Deployment', 'registry') as V1Deployment).spec?.template.spec?.containers[0]?.resources?.limits;
    assert.equal(limits?.['ephemeral-storage'], '8448Mi');
  });

  it('renders no namespace but its own (builds run in the builds layer\'s)', () => {
    const namespaces = renderRegistry({ storage: 'auto', storageSize: '5Gi' }).filter((o) => o.kind === 'Namespace');
    assert.deepEqual(namespaces.map((o) => o.metadata?.name), ['tracelab-registry']);
    assert.equal((namespaces[0] as V1Namespace).metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('configures filesystem storage with deletes and metrics on the debug port', () => {
    const config = parse(registryConfig()) as { storage: { filesystem: { rootdirectory: string }; delete: { enabled: boolean } }; http: { addr: string; debug: { prometheus: { enabled: boolean } } } };
    assert.equal(config.storage.filesystem.rootdirectory, '/var/lib/registry');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.http.addr, ':5000');
    assert.equal(config.http.debug.prometheus.enabled, true);
  });
});

describe('the pinned images', () => {
  it('are the versions the tests build and run (testenv/components/versions.env)', () => {
    const versions = readVersions();
    assert.equal(registryImage, `docker.io/library/registry:${versions.distribution.replace(/^v/, '')}`);
    assert.equal(buildkitImage, `docker.io/moby/buildkit:${versions.buildkit}`);
  });
});
