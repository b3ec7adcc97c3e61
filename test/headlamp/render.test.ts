/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; the rendered literals are read back as them */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1ClusterRole, V1ClusterRoleBinding, V1Deployment, V1Namespace, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.ts';
import { headlampImage } from '../../headlamp/address.ts';
import { parseHeadlampOptions } from '../../headlamp/options.ts';
import { renderHeadlamp } from '../../headlamp/render.ts';

function find(objects: KubernetesObject[], kind: string, name: string): KubernetesObject {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  assert.ok(found, `${kind} ${name} rendered`);
  return found;
}

describe('renderHeadlamp()', () => {
  const objects = renderHeadlamp(parseHeadlampOptions({}));

  it('runs the pinned Headlamp in its own namespace under Pod Security restricted, bounded in CPU, memory and disk', () => {
    assert.equal((find(objects, 'Namespace', 'headlamp') as V1Namespace).metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.match(headlampImage, /^ghcr\.io\/headlamp-k8s\/headlamp:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    const pod = (find(objects, 'Deployment', 'headlamp') as V1Deployment).spec?.template.spec;
    const container = pod?.containers[0];
    assert.equal(container?.image, headlampImage);
    assert.equal(container.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(container.args, ['-in-cluster', '-plugins-dir=/headlamp/plugins']);
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
    assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    for (const key of ['cpu', 'memory', 'ephemeral-storage']) assert.ok(container.resources?.limits?.[key] !== undefined, `a ${key} limit`);
    assert.deepEqual(pod.volumes, [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }]);
  });

  it('runs the pod as an account bound to nothing; people sign in as headlamp-viewer, bound to `view` and to reading Nodes only', () => {
    assert.equal((find(objects, 'Deployment', 'headlamp') as V1Deployment).spec?.template.spec?.serviceAccountName, 'headlamp');
    assert.equal((find(objects, 'ServiceAccount', 'headlamp-viewer') as V1ServiceAccount).automountServiceAccountToken, false);
    const bindings = objects.filter((o): o is V1ClusterRoleBinding => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding');
    assert.deepEqual(bindings.map((b) => [b.roleRef.name, b.subjects?.map((s) => `${s.namespace ?? ''}/${s.name}`)]), [
      ['view', ['headlamp/headlamp-viewer']],
      ['tracelab-headlamp-nodes-reader', ['headlamp/headlamp-viewer']],
    ]);
    // The one extra role only reads Nodes: never `*`, never a verb that changes anything.
    assert.deepEqual((find(objects, 'ClusterRole', 'tracelab-headlamp-nodes-reader') as V1ClusterRole).rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
  });

  it('serves on Service port 80, targetPort named http (4466); NetworkPolicies deny by default and allow the UI, DNS and the API server', () => {
    assert.deepEqual((find(objects, 'Service', 'headlamp') as V1Service).spec?.ports?.map((p) => [p.port, p.targetPort]), [[80, 'http']]);
    assert.deepEqual((find(objects, 'Deployment', 'headlamp') as V1Deployment).spec?.template.spec?.containers[0]?.ports, [{ name: 'http', containerPort: 4466, protocol: 'TCP' }]);
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata?.name);
    assert.deepEqual(policies, ['default-deny', 'allow-ui-from-anywhere', 'allow-dns', 'allow-kubernetes-api']);
    for (const object of objects.filter((o) => o.metadata?.namespace !== undefined)) assert.equal(object.metadata?.namespace, 'headlamp');
  });
});

describe('parseHeadlampOptions()', () => {
  it('takes a mirror copy of the image by tag or digest', () => {
    assert.equal(parseHeadlampOptions({ image: 'mirror.lab:5000/headlamp-k8s/headlamp:v0.45.0' }).image, 'mirror.lab:5000/headlamp-k8s/headlamp:v0.45.0');
  });
  for (const [raw, message] of [
    [{ image: 'headlamp' }, /--image 'headlamp' is not an image reference with a tag or digest/],
    [{ image: 'mirror.lab:5000/headlamp' }, /is not an image reference with a tag or digest/],
    [{ replicas: '2' }, /unknown option --replicas for the headlamp layer — it takes --image/],
  ] as const) {
    it(`refuses ${JSON.stringify(raw)} in one line, exit 2`, () => {
      assert.throws(() => parseHeadlampOptions(raw), (err: unknown) => err instanceof UserError && err.exitCode === 2 && message.test(err.message) && !err.message.includes('\n'));
    });
  }
});
