import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conciseApiMessage, networkErrorCode } from '../../../core/kube/errors.ts';

describe('conciseApiMessage()', () => {
  it('keeps the field of a strict-validation failure and drops the wrapping', () => {
    assert.equal(
      conciseApiMessage('failed to create typed patch object (tracelab-demo/backend; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="server"].bogus: field not declared in schema'),
      '.spec.template.spec.containers[name="server"].bogus: field not declared in schema',
    );
  });

  it('drops the object prefix of an Invalid status', () => {
    assert.equal(conciseApiMessage('Deployment.apps "backend" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'), 'spec.replicas: Invalid value: -1: must be greater than or equal to 0');
  });
});

describe('networkErrorCode()', () => {
  it('finds the code in a cause chain', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    assert.equal(networkErrorCode(new TypeError('fetch failed', { cause: refused })), 'ECONNREFUSED');
    assert.equal(networkErrorCode(new Error('socket hang up')), 'ECONNRESET');
    assert.equal(networkErrorCode(new Error('something else')), undefined);
  });
});
