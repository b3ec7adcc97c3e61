import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeConflicts, parseConflicts } from '../../../core/kube/conflicts.ts';
import { KubeApiError } from '../../../core/kube/errors.ts';
import { explainKubeError } from '../../../core/kube/report.ts';

const conflict = (message: string): KubeApiError => new KubeApiError({ status: 409, reason: 'Conflict', message, method: 'PATCH', path: '/apis/apps/v1/namespaces/d/deployments/b' });

describe('parseConflicts()', () => {
  it('reads one conflict', () => {
    assert.deepEqual(parseConflicts(conflict('Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas')), [
      { manager: 'kubectl-scale', field: '.spec.replicas' },
    ]);
  });

  it('reads several fields of several managers', () => {
    const message =
      'Apply failed with 3 conflicts: conflicts with "kubectl-set" using apps/v1:\n- .spec.template.spec.containers[name="server"].image\n- .metadata.labels.x\nconflict with "helm" using apps/v1: .spec.paused';
    assert.deepEqual(parseConflicts(conflict(message)), [
      { manager: 'kubectl-set', field: '.spec.template.spec.containers[name="server"].image' },
      { manager: 'kubectl-set', field: '.metadata.labels.x' },
      { manager: 'helm', field: '.spec.paused' },
    ]);
  });

  it('ignores other errors, including other 409s', () => {
    assert.equal(parseConflicts(new Error('x')), undefined);
    assert.equal(parseConflicts(conflict('Operation cannot be fulfilled on deployments.apps "b": the object has been modified')), undefined);
  });
});

describe('explainKubeError() of a conflict', () => {
  it('is one line naming the object, the field, the other manager and the fix, exit 5', () => {
    const err = explainKubeError('apply', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'b', namespace: 'd' }, conflict('Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'));
    assert.ok(err instanceof Error && 'exitCode' in err);
    assert.equal((err as { exitCode: number }).exitCode, 5);
    assert.match(err.message, /^apply Deployment d\/b: spec\.replicas \(changed by kubectl-scale\) since tracelab applied it — .*--force-conflicts/);
    assert.ok(!err.message.includes('\n'));
    assert.equal(describeConflicts([{ manager: 'a', field: '.x' }, { manager: 'b', field: '.y' }]), 'x (changed by a), y (changed by b)');
  });
});
