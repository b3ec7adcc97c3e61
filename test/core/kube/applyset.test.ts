/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applySetId, readRecord, recordOf, renderApplySetParent, unionRecords } from '../../../core/kube/applyset.ts';

describe('applySetId()', () => {
  it('has the kubectl ApplySet id shape and fits a label value', () => {
    const id = applySetId('demo');
    assert.match(id, /^applyset-[A-Za-z0-9_-]{43}-v1$/);
    assert.ok(id.length <= 63);
    assert.notEqual(applySetId('monitoring'), id);
  });
});

describe('recordOf()', () => {
  it('lists sorted group-kinds and namespaces', () => {
    const record = recordOf([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a', namespace: 'demo' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'other' } },
    ]);
    assert.deepEqual(record, { groupKinds: ['Deployment.apps', 'Namespace', 'Service'], namespaces: ['demo', 'other'] });
  });
});

describe('renderApplySetParent() and readRecord()', () => {
  it('round-trips the record through the parent annotations', () => {
    const record = unionRecords({ groupKinds: ['Namespace'], namespaces: [] }, { groupKinds: ['Deployment.apps'], namespaces: ['demo'] });
    const parent = renderApplySetParent('demo', record);
    assert.equal(parent.metadata.annotations['applyset.kubernetes.io/contains-group-kinds'], 'Deployment.apps,Namespace');
    assert.equal(parent.metadata.labels['applyset.kubernetes.io/id'], applySetId('demo'));
    assert.deepEqual(readRecord(parent), record);
    assert.deepEqual(readRecord(undefined), { groupKinds: [], namespaces: [] });
  });
});
