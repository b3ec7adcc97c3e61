/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { applyTiers, assertUnique, describeObject, groupKindOf, keyOf, refOf, sortForApply, withLayerLabels } from '../../../core/kube/objects.ts';

const object = (apiVersion: string, kind: string, name: string, namespace?: string): KubernetesObject => ({
  apiVersion,
  kind,
  metadata: namespace === undefined ? { name } : { name, namespace },
});

describe('sortForApply()', () => {
  it('orders namespaces, CRDs, RBAC, config, Services, workloads, policies, then custom resources', () => {
    const shuffled = [
      object('monitoring.coreos.com/v1', 'ServiceMonitor', 'sm', 'ns'),
      object('autoscaling/v2', 'HorizontalPodAutoscaler', 'hpa', 'ns'),
      object('apps/v1', 'Deployment', 'web', 'ns'),
      object('v1', 'Service', 'web', 'ns'),
      object('v1', 'ConfigMap', 'cfg', 'ns'),
      object('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rb', 'ns'),
      object('rbac.authorization.k8s.io/v1', 'Role', 'r', 'ns'),
      object('v1', 'ServiceAccount', 'sa', 'ns'),
      object('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'x.example.com'),
      object('v1', 'Namespace', 'ns'),
    ];
    assert.deepEqual(
      sortForApply(shuffled).map((o) => o.kind),
      ['Namespace', 'CustomResourceDefinition', 'Role', 'ServiceAccount', 'RoleBinding', 'ConfigMap', 'Service', 'Deployment', 'HorizontalPodAutoscaler', 'ServiceMonitor'],
    );
  });

  it('keeps render order within a tier', () => {
    const objects = [object('v1', 'Service', 'b', 'ns'), object('v1', 'Service', 'a', 'ns')];
    assert.deepEqual(sortForApply(objects).map((o) => o.metadata?.name), ['b', 'a']);
  });
});

describe('applyTiers()', () => {
  it('groups objects that may be applied at once', () => {
    const tiers = applyTiers([object('apps/v1', 'Deployment', 'a', 'ns'), object('v1', 'Namespace', 'ns'), object('apps/v1', 'DaemonSet', 'b', 'ns')]);
    assert.deepEqual(tiers.map((tier) => tier.map((o) => o.kind)), [['Namespace'], ['Deployment', 'DaemonSet']]);
  });
});

describe('groupKindOf() and keyOf()', () => {
  it('names core kinds without a group and ignores the version', () => {
    assert.equal(groupKindOf({ apiVersion: 'v1', kind: 'Service' }), 'Service');
    assert.equal(groupKindOf({ apiVersion: 'apps/v1', kind: 'Deployment' }), 'Deployment.apps');
    assert.equal(
      keyOf(refOf(object('autoscaling/v1', 'HorizontalPodAutoscaler', 'x', 'ns'))),
      keyOf(refOf(object('autoscaling/v2', 'HorizontalPodAutoscaler', 'x', 'ns'))),
    );
  });
});

describe('describeObject()', () => {
  it('names namespaced and cluster objects the way messages do', () => {
    assert.equal(describeObject(object('apps/v1', 'Deployment', 'backend', 'tracelab-demo')), 'Deployment tracelab-demo/backend');
    assert.equal(describeObject(object('v1', 'Namespace', 'tracelab-demo')), 'Namespace tracelab-demo');
  });
});

describe('withLayerLabels()', () => {
  it('adds the membership labels to a copy', () => {
    const original = { ...object('v1', 'Service', 'web', 'ns'), metadata: { name: 'web', namespace: 'ns', labels: { app: 'web' } } };
    const labelled = withLayerLabels(original, 'demo', { extra: 'yes' });
    assert.deepEqual(labelled.metadata.labels, { app: 'web', 'app.kubernetes.io/managed-by': 'tracelab', 'tracelab.dev/layer': 'demo', extra: 'yes' });
    assert.deepEqual(original.metadata.labels, { app: 'web' });
  });
});

describe('assertUnique()', () => {
  it('names an object rendered twice', () => {
    assert.throws(() => {
      assertUnique([object('v1', 'Service', 'web', 'ns'), object('v1', 'Service', 'web', 'ns')], 'demo');
    }, /layer demo renders Service ns\/web twice/);
  });
});
