/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { renderBuildPod } from '../../build/build-pod.ts';
import { pushCredentialsDir, renderPushSecret, withPushCredentials } from '../../build/push-credentials.ts';

const settings = { namespace: 'tracelab-build', image: 'example.com/builder:1', deadlineSeconds: 60 };
const credentials = JSON.stringify({ auths: { 'r.example.com': { auth: Buffer.from('u:p').toString('base64') } } });

function modeOf(pod: V1Pod): number | undefined {
  return pod.spec?.volumes?.find((volume) => volume.name === 'registry-auth')?.secret?.defaultMode;
}

describe('withPushCredentials() and renderPushSecret()', () => {
  const pod = renderBuildPod('kaniko', 'backend', settings, 'abc123', { args: ['--destination=r.example.com/t/backend:1'] });

  it('mounts the Secret read-only as DOCKER_CONFIG/config.json, leaving the pod it was given as it was', () => {
    const before = JSON.stringify(pod);
    const withCredentials = withPushCredentials(pod, 'build-backend-abc123');
    assert.equal(JSON.stringify(pod), before);
    const container = withCredentials.spec?.containers[0];
    assert.deepEqual(container?.env, [{ name: 'DOCKER_CONFIG', value: pushCredentialsDir }]);
    assert.deepEqual(container.volumeMounts, [{ name: 'registry-auth', mountPath: pushCredentialsDir, readOnly: true }]);
    assert.deepEqual(withCredentials.spec?.volumes, [{ name: 'registry-auth', secret: { secretName: 'build-backend-abc123', defaultMode: 0o400, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } }]);
  });

  it('gives the file the least mode the container\'s user reads it with: root 0400, a user in fsGroup 0440, a user without one 0444', () => {
    assert.equal(modeOf(withPushCredentials(pod, 's')), 0o400);
    const rootless = renderBuildPod('buildkit', 'backend', settings, 'abc123', { securityContext: { runAsUser: 1000, runAsNonRoot: true } });
    assert.equal(modeOf(withPushCredentials(rootless, 's')), 0o444);
    const grouped: V1Pod = structuredClone(rootless);
    if (grouped.spec !== undefined) grouped.spec.securityContext = { fsGroup: 1000 };
    assert.equal(modeOf(withPushCredentials(grouped, 's')), 0o440);
  });

  it('puts the credentials in an immutable dockerconfigjson Secret named after the pod, in its namespace', () => {
    const secret = renderPushSecret(pod, credentials);
    const metadata = secret.metadata ?? assert.fail('no metadata');
    assert.equal(metadata.name, pod.metadata?.name);
    assert.equal(metadata.namespace, 'tracelab-build');
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(secret.immutable, true);
    assert.deepEqual(secret.stringData, { '.dockerconfigjson': credentials });
    assert.equal(metadata.labels?.['app.kubernetes.io/managed-by'], 'tracelab');
  });
});
