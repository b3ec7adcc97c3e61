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

describe('describeChange()', () => {
  const env = 'spec.template.spec.containers[server].env[CONFIG].value';
  const sides = (line: string): string[] => line.slice(line.indexOf(' ') + 1).split(' → ');

  it('shows the end of a long env value when only its end changed', () => {
    const changes = diffObjects(deployment(1, [{ name: 'CONFIG', value: `${'x'.repeat(100)}A` }]), deployment(1, [{ name: 'CONFIG', value: `${'x'.repeat(100)}B` }]));
    assert.deepEqual(changes.map(describeChange), [`${env} …${'x'.repeat(58)}A" → …${'x'.repeat(58)}B"`]);
  });

  it('shows where a long JSON document differs, the same window on both sides', () => {
    const collectorConfig = (port: number): string => JSON.stringify({ receivers: { otlp: { protocols: { grpc: { endpoint: '0.0.0.0:4317' }, http: { endpoint: `0.0.0.0:${port}` } } } } });
    const line = describeChange({ path: 'data.config', before: collectorConfig(4318), after: collectorConfig(4319) });
    assert.equal(line, String.raw`data.config ….0.0.0:4317\"},\"http\":{\"endpoint\":\"0.0.0.0:4318\"}}}}}" → ….0.0.0:4317\"},\"http\":{\"endpoint\":\"0.0.0.0:4319\"}}}}}"`);
    const [before, after] = sides(line);
    assert.notEqual(before, after);
  });

  it('cuts both ends around a difference in the middle', () => {
    const value = (middle: string): string => `${'a'.repeat(50)}${middle}${'b'.repeat(50)}`;
    assert.equal(describeChange({ path: 'v', before: value('X'), after: value('Y') }), `v …${'a'.repeat(20)}X${'b'.repeat(39)}… → …${'a'.repeat(20)}Y${'b'.repeat(39)}…`);
  });

  it('shows the beginning of a long value that was added or removed', () => {
    const value = 'z'.repeat(100);
    assert.equal(describeChange({ path: 'v', before: undefined, after: value }), `v (none) → "${'z'.repeat(59)}…`);
    assert.equal(describeChange({ path: 'v', before: value, after: undefined }), `v "${'z'.repeat(59)}… → (none)`);
  });

  it('shows values of up to 60 characters whole', () => {
    assert.equal(describeChange({ path: 'v', before: 'short', after: 'x'.repeat(58) }), `v "short" → "${'x'.repeat(58)}"`);
  });

  it('never cuts a character in two', () => {
    const line = describeChange({ path: 'v', before: `${'🙂'.repeat(70)}a`, after: `${'🙂'.repeat(70)}b` });
    assert.equal(line, `v …${'🙂'.repeat(58)}a" → …${'🙂'.repeat(58)}b"`);
    assert.doesNotMatch(line, /\p{Cs}/u);
  });
});
