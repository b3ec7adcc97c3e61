// Integration: which BuildKit pod a cluster admits, asked of a real kube-apiserver's admission
// (Pod Security and a ValidatingAdmissionPolicy) by a server-side dry run that stores nothing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import { chooseBuildkitMode, type BuildkitSettings } from '../../../build/builders/buildkit.ts';
import type { BuildRequest } from '../../../build/builder.ts';
import { UserError, exitCodes } from '../../../core/errors.ts';
import type { KubeClient } from '../../../core/kube/client.ts';
import { createRecordingOutput } from '../../../core/output.ts';
import { localCluster } from '../../core/kube/local-cluster.ts';

const cluster = localCluster(1);
const registry = 'registry.tracelab-registry.svc.cluster.local:5000';
const request: BuildRequest = {
  images: [{ label: 'backend', image: `${registry}/tracelab/backend:t`, buildArgs: {}, cacheImage: `${registry}/tracelab/cache:backend` }],
  context: () => Readable.from([]),
  insecureRegistries: [registry],
};
const settings = (namespace: string, mode: BuildkitSettings['mode'] = 'auto'): BuildkitSettings => ({ namespace, image: 'docker.io/moby/buildkit:v0.34.2', deadlineSeconds: 60, mode });

async function namespace(kube: KubeClient, name: string, enforce: 'privileged' | 'baseline', labels: Record<string, string> = {}): Promise<void> {
  await kube.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': enforce, ...labels } } } });
}

async function refused(promise: Promise<unknown>): Promise<UserError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserError, `a UserError, got ${String(err)}`);
  assert.doesNotMatch(err.message, /\n/, 'one line');
  return err;
}

describe('the BuildKit mode, as the cluster admits it (a real API server)', () => {
  it('auto is rootless where Pod Security is privileged, as in tracelab-build; a dry run stores nothing', async (t) => {
    const local = await cluster(t);
    if (local === undefined) return;
    const { kube } = local;
    await namespace(kube, 'build-open', 'privileged');
    const output = createRecordingOutput();
    assert.equal(await chooseBuildkitMode(kube, request, settings('build-open'), output), 'rootless');
    assert.equal(await chooseBuildkitMode(kube, request, settings('build-open', 'privileged'), output), 'privileged');
    assert.deepEqual(output.lines, []);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: 'build-open' })).items, []);
  });

  it('Pod Security baseline refuses both pods (unconfined seccomp and AppArmor; privileged): one line, exit 5, nothing created', async (t) => {
    const local = await cluster(t);
    if (local === undefined) return;
    const { kube } = local;
    await namespace(kube, 'build-baseline', 'baseline');
    const err = await refused(chooseBuildkitMode(kube, request, settings('build-baseline'), createRecordingOutput()));
    assert.equal(err.exitCode, exitCodes.refused);
    assert.match(err.message, /^the cluster refuses both BuildKit pods in namespace build-baseline \(rootless: .*seccompProfile.*; privileged: .*privileged.*\) — label it pod-security\.kubernetes\.io\/enforce=privileged/);
    const rootless = await refused(chooseBuildkitMode(kube, request, settings('build-baseline', 'rootless'), createRecordingOutput()));
    assert.match(rootless.message, /— allow it there, or pass --buildkit-mode privileged$/);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: 'build-baseline' })).items, []);
  });

  it('where a policy refuses unconfined seccomp but admits privileged pods, auto says so and builds privileged; --buildkit-mode rootless is one line naming the fix', async (t) => {
    const local = await cluster(t);
    if (local === undefined) return;
    const { kube } = local;
    await namespace(kube, 'build-policy', 'privileged', { 'tracelab.test/no-unconfined': 'true' });
    await kube.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: 'no-unconfined-seccomp' },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
          validations: [{ expression: "object.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.seccompProfile) || c.securityContext.seccompProfile.type != 'Unconfined')", message: 'seccomp Unconfined is not allowed here' }],
        },
      },
    });
    await kube.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings', {
      body: {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicyBinding',
        metadata: { name: 'no-unconfined-seccomp' },
        spec: { policyName: 'no-unconfined-seccomp', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'tracelab.test/no-unconfined': 'true' } } } },
      },
    });
    // The API server takes the new policy up within a moment: until then auto still picks rootless.
    const output = createRecordingOutput();
    const deadline = Date.now() + 30_000;
    let mode = await chooseBuildkitMode(kube, request, settings('build-policy'), output);
    while (mode === 'rootless' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      mode = await chooseBuildkitMode(kube, request, settings('build-policy'), output);
    }
    assert.equal(mode, 'privileged', 'the policy took effect within 30 s');
    assert.match(output.lines.at(-1) ?? '', /^ {2}buildkit: the cluster refuses the rootless pod in build-policy \(.*seccomp Unconfined is not allowed here.*\) — building in a privileged pod$/);
    const err = await refused(chooseBuildkitMode(kube, request, settings('build-policy', 'rootless'), createRecordingOutput()));
    assert.equal(err.exitCode, exitCodes.refused);
    assert.match(err.message, /^the cluster refuses the rootless BuildKit pod in namespace build-policy: .*seccomp Unconfined is not allowed here.* — allow it there, or pass --buildkit-mode privileged$/);
    assert.deepEqual((await kube.list<V1Pod>('v1', 'Pod', { namespace: 'build-policy' })).items, []);
  });
});
