/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { applySetId } from '../../../core/kube/applyset.ts';
import { madeByKubernetes, ownershipOf } from '../../../core/kube/ownership.ts';

function object(labels: Record<string, string>, managers: [string, string][], extra: Partial<KubernetesObject['metadata']> = {}): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'backend', namespace: 'tracelab-demo', labels, managedFields: managers.map(([manager, operation]) => ({ manager, operation })), ...extra },
  };
}

describe('ownershipOf()', () => {
  const demoLabels = { 'applyset.kubernetes.io/part-of': applySetId('demo'), 'tracelab.dev/layer': 'demo' };

  it('is ours with the ApplySet label and an apply by the layer', () => {
    assert.deepEqual(ownershipOf(object(demoLabels, [['tracelab-demo', 'Apply']]), 'demo'), { kind: 'ours' });
  });

  it('is not ours with the label alone: a copy someone made', () => {
    assert.deepEqual(ownershipOf(object(demoLabels, [['kubectl-create', 'Update']]), 'demo'), { kind: 'foreign', managers: ['kubectl-create'] });
  });

  it('names another layer that applied it', () => {
    const monitoring = { 'applyset.kubernetes.io/part-of': applySetId('monitoring'), 'tracelab.dev/layer': 'monitoring' };
    assert.deepEqual(ownershipOf(object(monitoring, [['tracelab-monitoring', 'Apply']]), 'demo'), { kind: 'another-layer', layer: 'monitoring' });
  });

  it('lists the managers of an object made by someone else', () => {
    assert.deepEqual(ownershipOf(object({}, [['kubectl-client-side-apply', 'Update'], ['helm', 'Update']]), 'demo'), { kind: 'foreign', managers: ['helm', 'kubectl-client-side-apply'] });
  });
});

describe('madeByKubernetes()', () => {
  it('counts owned objects, events and what only cluster components wrote', () => {
    assert.ok(madeByKubernetes(object({}, [['kube-controller-manager', 'Update']])));
    assert.ok(madeByKubernetes(object({}, [['kubectl', 'Update']], { ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'x', uid: 'u' }] })));
    assert.ok(madeByKubernetes({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' } }));
    // The `default` ServiceAccount and `kube-root-ca.crt` as the controllers write them: no managed fields.
    assert.ok(madeByKubernetes(object({}, [])));
  });

  it('does not count what a person or another tool made', () => {
    assert.ok(!madeByKubernetes(object({}, [['kubectl-create', 'Update']])));
    assert.ok(!madeByKubernetes(object({}, [['kube-controller-manager', 'Update'], ['kubectl-edit', 'Update']])));
  });

  it("counts what the layer's own programs alone wrote, and nothing a person touched too", () => {
    assert.ok(madeByKubernetes(object({}, [['pilot-discovery', 'Update']]), ['pilot-discovery']));
    assert.ok(!madeByKubernetes(object({}, [['pilot-discovery', 'Update']])), 'only for the layer that runs it');
    assert.ok(!madeByKubernetes(object({}, [['pilot-discovery', 'Update'], ['kubectl-edit', 'Update']]), ['pilot-discovery']));
  });
});
