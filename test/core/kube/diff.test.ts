/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { describeChange, diffObjects } from '../../../core/kube/diff.ts';

const deployment = (replicas: number, env: { name: string; value: string }[], extra: Record<string, unknown> = {}): KubernetesObject =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'backend', namespace: 'tracelab-demo', resourceVersion: '1', generation: 1, uid: 'u', managedFields: [], ...extra },
    spec: { replicas, template: { spec: { containers: [{ name: 'server', image: 'x', env }] } } },
    status: { availableReplicas: replicas },
  }) as KubernetesObject;

describe('diffObjects()', () => {
  it('ignores status and server bookkeeping', () => {
    const live = deployment(2, [{ name: 'A', value: '1' }]);
    const applied = deployment(2, [{ name: 'A', value: '1' }], { resourceVersion: '9', generation: 7, annotations: { 'deployment.kubernetes.io/revision': '3' } });
    (applied as { status: unknown }).status = { availableReplicas: 0 };
    assert.deepEqual(diffObjects(live, applied), []);
  });

  it('names a changed scalar with its old and new value', () => {
    const changes = diffObjects(deployment(2, []), deployment(3, []));
    assert.deepEqual(changes, [{ path: 'spec.replicas', before: 2, after: 3 }]);
    assert.equal(describeChange(changes[0] ?? { path: '', before: 0, after: 0 }), 'spec.replicas 2 → 3');
  });

  it('addresses named list items by name', () => {
    const changes = diffObjects(deployment(1, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]), deployment(1, [{ name: 'A', value: '1' }, { name: 'B', value: '5' }]));
    assert.deepEqual(changes, [{ path: 'spec.template.spec.containers[server].env[B].value', before: '2', after: '5' }]);
  });

  it('reports an added list item', () => {
    const changes = diffObjects(deployment(1, [{ name: 'A', value: '1' }]), deployment(1, [{ name: 'A', value: '1' }, { name: 'C', value: '3' }]));
    assert.deepEqual(changes.map(describeChange), ['spec.template.spec.containers[server].env[C] (none) → {"name":"C","value":"3"}']);
  });
});
