import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError, KubeUnreachableError } from '../../../core/kube/errors.ts';
import { describeOutcomes, explainKubeError, summarize, type DeployReport } from '../../../core/kube/report.ts';
import { RetriesExhaustedError } from '../../../core/kube/retry.ts';

const backend = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'backend', namespace: 'tracelab-demo' };
const report: DeployReport = {
  layer: 'demo',
  dryRun: true,
  outcomes: [
    { ref: { apiVersion: 'v1', kind: 'Namespace', name: 'tracelab-demo' }, action: 'unchanged', changes: [] },
    { ref: backend, action: 'changed', changes: [{ path: 'spec.replicas', before: 2, after: 3 }] },
    { ref: { ...backend, kind: 'Service' }, action: 'created', changes: [] },
    { ref: { ...backend, apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' }, action: 'pruned', changes: [] },
  ],
};

describe('summarize() and describeOutcomes()', () => {
  it('counts each action and says when nothing was changed', () => {
    assert.equal(summarize(report), 'demo: 1 created, 1 changed, 1 unchanged, 1 pruned (dry run: nothing was changed)');
  });

  it('prints one line per created or pruned object and per changed field', () => {
    assert.deepEqual(describeOutcomes(report, { includeUnchanged: false }), [
      '~ Deployment tracelab-demo/backend: spec.replicas 2 → 3',
      '+ Service tracelab-demo/backend created',
      '- PodDisruptionBudget tracelab-demo/backend pruned',
    ]);
  });
});

describe('explainKubeError()', () => {
  it('names the operation, the object and the field', () => {
    const err = new KubeApiError({
      status: 400,
      reason: 'BadRequest',
      message: 'failed to create typed patch object (tracelab-demo/backend; apps/v1, Kind=Deployment): .spec.bogus: field not declared in schema',
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/tracelab-demo/deployments/backend',
    });
    assert.equal(explainKubeError('apply', backend, err).message, 'apply Deployment tracelab-demo/backend: .spec.bogus: field not declared in schema');
  });

  it('says where the API could not be reached and for how long it tried', () => {
    const unreachable = new KubeUnreachableError('https://127.0.0.1:6443', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6443');
    const err = explainKubeError('apply', backend, new RetriesExhaustedError(5, 7_300, unreachable));
    assert.equal(
      err.message,
      'apply Deployment tracelab-demo/backend: cannot reach the Kubernetes API at https://127.0.0.1:6443: connect ECONNREFUSED 127.0.0.1:6443 (gave up after 5 attempts in 7.3s) — check that the cluster is up and --kubeconfig/--context point at it',
    );
  });
});
