/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; the rendered literals are read back as them */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Namespace } from '@kubernetes/client-node';
import type { NetworkPolicy } from '../../demo/network-policies.ts';
import { UserError } from '../../core/errors.ts';
import { buildsLayer } from '../../build/layer.ts';

describe('the builds layer', () => {
  it('is the namespace build pods run in: privileged enforced, restricted audited and warned; bootstrap installs it', () => {
    const objects = buildsLayer.render(buildsLayer.parseOptions({}));
    assert.deepEqual(objects.map((o) => `${o.kind ?? ''}/${o.metadata?.name ?? ''}`), ['Namespace/tracelab-build', 'NetworkPolicy/deny-ingress']);
    assert.deepEqual((objects[1] as NetworkPolicy).spec, { podSelector: {}, policyTypes: ['Ingress'] });
    const labels = (objects[0] as V1Namespace).metadata?.labels;
    assert.equal(labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.equal(labels['pod-security.kubernetes.io/audit'], 'restricted');
    assert.equal(labels['pod-security.kubernetes.io/warn'], 'restricted');
    assert.deepEqual(buildsLayer.namespaces, ['tracelab-build']);
    assert.equal(buildsLayer.installedByBootstrap, true);
  });

  it('takes no options: one line naming the one given', () => {
    assert.throws(() => buildsLayer.parseOptions({ size: '1' }), (err: unknown) => err instanceof UserError && err.message === 'unknown option --size for the builds layer — it takes none');
  });
});
