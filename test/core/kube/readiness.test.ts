/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { readinessOf } from '../../../core/kube/readiness.ts';

const deployment = (status: Record<string, unknown>, replicas = 2, generation = 1): KubernetesObject =>
  ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', generation }, spec: { replicas }, status }) as KubernetesObject;

describe('readinessOf()', () => {
  const cases: [string, KubernetesObject | undefined, boolean, RegExp][] = [
    ['a missing object', undefined, false, /does not exist/],
    ['an unobserved Deployment', deployment({ observedGeneration: 0 }), false, /not yet observed/],
    ['a Deployment rolling out', deployment({ observedGeneration: 1, updatedReplicas: 1, replicas: 2 }), false, /1 of 2 replicas updated/],
    ['a Deployment with old pods', deployment({ observedGeneration: 1, updatedReplicas: 2, replicas: 3, availableReplicas: 2 }), false, /1 old replicas/],
    ['a Deployment not yet available', deployment({ observedGeneration: 1, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }), false, /1 of 2 updated replicas available/],
    ['a Deployment scaling down', deployment({ observedGeneration: 1, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }), false, /1 replicas above the desired 2/],
    ['an available Deployment', deployment({ observedGeneration: 1, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }), true, /2 replicas available/],
    [
      'a DaemonSet rolled out',
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'x', generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 } } as KubernetesObject,
      true,
      /3 pods/,
    ],
    ['a complete Job', { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status: { conditions: [{ type: 'Complete', status: 'True' }] } } as KubernetesObject, true, /complete/],
    [
      'an APIService its server does not answer for',
      { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1beta1.metrics.k8s.io' }, spec: { service: { name: 'metrics-server', namespace: 'kube-system' } }, status: { conditions: [{ type: 'Available', status: 'False', reason: 'FailedDiscoveryCheck', message: 'failing or missing response' }] } } as KubernetesObject,
      false,
      /^Available=False FailedDiscoveryCheck: failing or missing response$/,
    ],
    ['a local APIService', { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1.apps' }, spec: { service: null } } as unknown as KubernetesObject, true, /available/],
    ['an established CRD', { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'c' }, status: { conditions: [{ type: 'Established', status: 'True' }] } } as KubernetesObject, true, /established/],
  ];
  for (const [what, object, ready, detail] of cases) {
    it(`judges ${what}`, () => {
      const readiness = readinessOf(object);
      assert.equal(readiness.ready, ready);
      assert.match(readiness.detail, detail);
    });
  }

  it('gives up on a Deployment past its progress deadline', () => {
    const readiness = readinessOf(deployment({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "d-1" has timed out progressing.' }] }));
    assert.equal(readiness.failed, true);
    assert.match(readiness.detail, /Progressing=False ProgressDeadlineExceeded: ReplicaSet "d-1" has timed out/);
  });

  it('gives up on a failed Job', () => {
    const readiness = readinessOf({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] } } as KubernetesObject);
    assert.equal(readiness.failed, true);
  });
});
