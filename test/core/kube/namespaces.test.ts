/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { namespaceDeletionFailure, namespaceDeletionProgress } from '../../../core/kube/namespaces.ts';

const terminating = (conditions: object[]): KubernetesObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' }, status: { phase: 'Terminating', conditions } }) as KubernetesObject;

describe('namespaceDeletionFailure()', () => {
  it('names an API the namespace controller cannot discover', () => {
    const namespace = terminating([
      { type: 'NamespaceDeletionDiscoveryFailure', status: 'True', reason: 'DiscoveryFailed', message: 'Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: stale GroupVersion discovery: metrics.k8s.io/v1beta1' },
      { type: 'NamespaceContentRemaining', status: 'False' },
    ]);
    assert.match(namespaceDeletionFailure(namespace) ?? '', /^NamespaceDeletionDiscoveryFailure=True DiscoveryFailed: .*metrics\.k8s\.io\/v1beta1/);
  });

  it('is undefined while the deletion progresses, which the progress line describes', () => {
    const namespace = terminating([
      { type: 'NamespaceDeletionDiscoveryFailure', status: 'False', reason: 'ResourcesDiscovered' },
      { type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: 'Some resources are remaining: pods. has 2 resource instances' },
    ]);
    assert.equal(namespaceDeletionFailure(namespace), undefined);
    assert.equal(namespaceDeletionProgress(namespace), 'Some resources are remaining: pods. has 2 resource instances');
    assert.equal(namespaceDeletionFailure(undefined), undefined);
  });
});
