// Integration on the local control plane, with the REAL distribution registry (htpasswd) on
// 127.0.0.1 as the `--registry` of a cluster tracelab did not bootstrap: the pull secret checked
// before anything is applied, the lab registry never put up, lookups straight to the registry
// with the pull secret's credentials, a dry run that changes nothing, the Deployments pulling
// REF/…@digest with imagePullSecrets; and a build pod that carries the push credentials in a
// Secret of its own, gone with it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject, V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node';
import { ociImageArchive } from '../../bootstrap/artifacts/oci-image.ts';
import { kanikoBuilder } from '../../build/builders/kaniko.ts';
import { imageTag } from '../../build/demo-images.ts';
import { demoSources } from '../../build/demo-sources.ts';
import { externalImageRegistry } from '../../build/image-registry.ts';
import { pushCredentialsDir } from '../../build/push-credentials.ts';
import { parseRegistryRef } from '../../build/registry-ref.ts';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { componentPath, isBuilt, requireComponents, waitFor } from '../../testenv/components.ts';
import { controlPlaneBinaries, startControlPlane, type ControlPlane } from '../../testenv/controlplane.ts';
import { startTestRegistry, type TestRegistry } from './registry-server.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(repo, 'cli/tracelab.ts');
const user = { username: 'alice', password: 'correct horse battery staple' };
const namespace = 'tracelab-demo';

/** `Kind namespace/name` → resourceVersion of what the demo, the builds and the lab registry would touch. */
async function snapshot(kube: KubeClient): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  for (const [apiVersion, kind] of [['v1', 'Namespace'], ['v1', 'Secret'], ['v1', 'Pod'], ['v1', 'Service'], ['apps/v1', 'Deployment'], ['v1', 'ConfigMap'], ['networking.k8s.io/v1', 'NetworkPolicy']] as const) {
    for (const item of (await kube.list<KubernetesObject>(apiVersion, kind)).items) {
      const ns = item.metadata?.namespace ?? '';
      if (ns === 'kube-system' || ns === 'kube-node-lease') continue;
      objects.set(`${kind} ${ns}/${item.metadata?.name ?? ''}`, item.metadata?.resourceVersion ?? '');
    }
  }
  return objects;
}

describe('deploy:demo --registry REF --pull-secret NAME on the local control plane, the real registry on 127.0.0.1', () => {
  let plane: ControlPlane | undefined;
  let kube: KubeClient | undefined;
  let registry: TestRegistry | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-external-registry-'));
  // The sources as they are now: other work on this tree must not change the keys under the test.
  const sources = join(work, 'sources');
  const digests: Record<string, string> = {};
  const ready = (): boolean => plane !== undefined && kube !== undefined && registry !== undefined;
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, '--kubeconfig', plane?.kubeconfig ?? '', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  const ref = (): string => `${registry?.host ?? ''}/team/tracelab`;
  const deploy = (...args: string[]) => run('deploy', 'demo', '--sources', sources, '--registry', ref(), '--registry-insecure', ...args);
  const dockerConfig = (password: string): string => JSON.stringify({ auths: { [registry?.host ?? '']: { username: user.username, password } } });

  before(async () => {
    if (![...controlPlaneBinaries, 'registry' as const].every(isBuilt)) return;
    cpSync(repo, sources, { recursive: true, filter: (path) => !/\/(node_modules|\.git|\.tracelab|bench|test|testenv)(\/|$)/.test(path.slice(repo.length - 1)) });
    registry = await startTestRegistry(componentPath('registry'), join(work, 'registry'), { auth: 'htpasswd', user });
    plane = await startControlPlane({ nodes: 1 });
    kube = createKube({ kubeconfig: plane.kubeconfig });
    // Both images already built from these sources, as a previous deploy:demo would have left them.
    const target = externalImageRegistry(parseRegistryRef(ref()), { insecure: true, credentials: user, credentialsSource: 'test' });
    const keys = await demoSources(sources, { offline: false });
    for (const service of ['frontend', 'backend'] as const) {
      const image = await ociImageArchive({ name: `tracelab/${service}:test`, files: [{ path: 'service', content: `${service}\n`, mode: 0o644 }], config: { Cmd: ['/service'] } });
      writeFileSync(join(work, `${service}.tar`), image.archive);
      digests[service] = await target.pushArchive(join(work, `${service}.tar`), target.repository(service), imageTag(keys.keys[service], undefined));
    }
    await keys.close();
  });

  after(async () => {
    await kube?.close();
    await plane?.stop();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('a pull secret that is missing, of another type, or without the registry\'s entry is one line, exit 2, and nothing is applied', async (t) => {
    if (requireComponents(t, [...controlPlaneBinaries, 'registry']) === undefined || !ready()) return;
    const cluster = kube as KubeClient;
    const before = await snapshot(cluster);
    const missing = deploy('--pull-secret', 'creds');
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /^✗ --pull-secret 'creds': namespace tracelab-demo has no Secret creds — make it \(and the namespace, which the first deploy then takes over with --adopt\): kubectl -n tracelab-demo create secret docker-registry creds --docker-server=HOST/m);

    await plane?.kubectl(['create', 'namespace', namespace]);
    await plane?.kubectl(['-n', namespace, 'create', 'secret', 'generic', 'opaque', '--from-literal=.dockerconfigjson={"auths":{}}']);
    await plane?.kubectl(['-n', namespace, 'create', 'secret', 'docker-registry', 'elsewhere', '--docker-server=other.example.com', '--docker-username=u', '--docker-password=p']);
    const withNamespace = await snapshot(cluster);
    const wrongType = deploy('--pull-secret', 'opaque');
    assert.equal(wrongType.status, 2, wrongType.stderr);
    assert.match(wrongType.stderr, /^✗ --pull-secret 'opaque': Secret tracelab-demo\/opaque is of type Opaque, not kubernetes\.io\/dockerconfigjson — make one of that type: kubectl -n tracelab-demo create secret docker-registry opaque/m);
    const noEntry = deploy('--pull-secret', 'elsewhere');
    assert.equal(noEntry.status, 2, noEntry.stderr);
    assert.match(noEntry.stderr, new RegExp(`^✗ pull secret 'elsewhere' has no credentials for ${registry?.host ?? ''} \\(it has other\\.example\\.com\\)`, 'm'));
    for (const result of [missing, wrongType, noEntry]) assert.equal(result.stderr.split('\n').filter((line) => line.startsWith('✗')).length, 1, result.stderr);
    // Through `up demo --images` too: the demo layer checks before it applies.
    const prebuilt = run('up', 'demo', '--images', `frontend=${ref()}/frontend:v1,backend=${ref()}/backend:v1`, '--pull-secret', 'opaque', '--adopt');
    assert.equal(prebuilt.status, 2, prebuilt.stderr);
    assert.match(prebuilt.stderr, /is of type Opaque, not kubernetes\.io\/dockerconfigjson/);
    assert.deepEqual(await snapshot(cluster), withNamespace);
    assert.ok(before.size > 5);
  });

  it('wrong credentials in the pull secret are one line from the registry, exit 5, nothing applied', async (t) => {
    if (requireComponents(t, [...controlPlaneBinaries, 'registry']) === undefined || !ready()) return;
    await plane?.kubectl(['-n', namespace, 'create', 'secret', 'generic', 'wrong', '--type=kubernetes.io/dockerconfigjson', `--from-literal=.dockerconfigjson=${dockerConfig('not-the-password')}`]);
    const before = await snapshot(kube as KubeClient);
    const result = deploy('--pull-secret', 'wrong', '--adopt');
    assert.equal(result.status, 5, result.stderr);
    assert.match(result.stderr, new RegExp(`^✗ registry ${(registry?.host ?? '').replace(/\./g, '\\.')} rejected the credentials of pull secret 'wrong' for GET /v2/team/tracelab/(frontend|backend)/manifests/src-[0-9a-f]{20} \\(401(: .*)?\\) — check the user name and password in that Secret$`, 'm'));
    assert.ok(!result.stderr.includes('not-the-password'));
    assert.deepEqual(await snapshot(kube as KubeClient), before);
  });

  it('--dry-run finds both images in the registry and changes nothing', async (t) => {
    if (requireComponents(t, [...controlPlaneBinaries, 'registry']) === undefined || !ready()) return;
    await plane?.kubectl(['-n', namespace, 'create', 'secret', 'docker-registry', 'creds', `--docker-server=${registry?.host ?? ''}`, `--docker-username=${user.username}`, `--docker-password=${user.password}`]);
    const before = await snapshot(kube as KubeClient);
    const result = run('--dry-run', 'deploy', 'demo', '--sources', sources, '--registry', ref(), '--registry-insecure', '--pull-secret', 'creds', '--adopt');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /registry: 127\.0\.0\.1:\d+ \(--registry, plain HTTP\); the lab registry is not used/);
    assert.match(result.stderr, /frontend: sources unchanged — team\/tracelab\/frontend:src-[0-9a-f]{20} is in 127\.0\.0\.1:\d+/);
    assert.match(result.stderr, /\+ Deployment tracelab-demo\/backend created/);
    assert.deepEqual(await snapshot(kube as KubeClient), before);
  });

  it('deploys REF/…@digest with imagePullSecrets, without the lab registry or a build; a second run changes nothing', async (t) => {
    if (requireComponents(t, [...controlPlaneBinaries, 'registry']) === undefined || !ready()) return;
    const cluster = kube as KubeClient;
    const result = deploy('--pull-secret', 'creds', '--adopt', '--timeout', '2m');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /backend: sources unchanged — team\/tracelab\/backend:src-[0-9a-f]{20} is in 127\.0\.0\.1:\d+/);
    for (const service of ['frontend', 'backend']) {
      const deployment = await cluster.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: service });
      const pod = deployment?.spec?.template.spec;
      assert.equal(pod?.containers[0]?.image, `${ref()}/${service}@${digests[service] ?? ''}`);
      assert.deepEqual(pod.imagePullSecrets, [{ name: 'creds' }]);
    }
    for (const name of ['tracelab-registry', 'tracelab-build']) {
      assert.equal(await cluster.get({ apiVersion: 'v1', kind: 'Namespace', name }), undefined, `no ${name}: no lab registry, and no build was due`);
    }
    const before = await snapshot(cluster);
    const again = deploy('--pull-secret', 'creds');
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /demo: 0 created, 0 changed/);
    assert.deepEqual(await snapshot(cluster), before);
  });

  it('a build pod carries the push credentials: a Secret of its own with the one registry\'s entry, owned by the pod, mounted read-only, both gone when the build ends', async (t) => {
    if (requireComponents(t, [...controlPlaneBinaries, 'registry']) === undefined || !ready()) return;
    const cluster = kube as KubeClient;
    await plane?.kubectl(['create', 'namespace', 'tracelab-build']);
    const target = externalImageRegistry(parseRegistryRef(ref()), { insecure: true, credentials: user, credentialsSource: "pull secret 'creds'" });
    const builder = kanikoBuilder(cluster, { namespace: 'tracelab-build', image: 'ghcr.io/osscontainertools/kaniko:v1.28.0', deadlineSeconds: 120 });
    const stop = new AbortController();
    const output = createRecordingOutput();
    const building = builder.build(
      {
        images: [{ label: 'backend', image: `${ref()}/backend:src-test`, buildArgs: { SERVICE: 'backend' }, cacheImage: `${ref()}/cache:backend` }],
        context: () => Readable.from([Buffer.alloc(0)]),
        insecureRegistries: target.insecureHosts,
        pushCredentials: target.pushCredentials,
      },
      output,
      stop.signal,
    );
    const ended = building.then(() => 'built', (err: unknown) => (err instanceof Error ? err.message : String(err)));
    // On kwok's nodes no container runs: the pod starts and waits; look at it, then stop the build.
    const pod = await waitFor('the build pod', async () => (await cluster.list<V1Pod>('v1', 'Pod', { namespace: 'tracelab-build' })).items[0]);
    const name = pod.metadata?.name ?? '';
    const secret = await waitFor('the credentials Secret owned by the pod', async () => {
      const found = await cluster.get<V1Secret>({ apiVersion: 'v1', kind: 'Secret', namespace: 'tracelab-build', name });
      return found?.metadata?.ownerReferences?.length === 1 ? found : undefined;
    });
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    assert.deepEqual(secret.metadata?.ownerReferences?.map((owner) => [owner.kind, owner.name, owner.uid]), [['Pod', name, pod.metadata?.uid]]);
    const config = JSON.parse(Buffer.from(secret.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8')) as { auths: Record<string, { auth: string }> };
    assert.deepEqual(Object.keys(config.auths), [registry?.host], 'only the registry pushed to');
    assert.equal(Buffer.from(config.auths[registry?.host ?? '']?.auth ?? '', 'base64').toString('utf8'), `${user.username}:${user.password}`);
    const container = pod.spec?.containers[0];
    assert.deepEqual(container?.env?.find((variable) => variable.name === 'DOCKER_CONFIG'), { name: 'DOCKER_CONFIG', value: pushCredentialsDir });
    assert.deepEqual(container.volumeMounts?.find((mount) => mount.name === 'registry-auth'), { name: 'registry-auth', mountPath: pushCredentialsDir, readOnly: true });
    assert.deepEqual(pod.spec?.volumes?.find((volume) => volume.name === 'registry-auth')?.secret, { secretName: name, defaultMode: 0o400, items: [{ key: '.dockerconfigjson', path: 'config.json' }] });
    assert.ok(!output.lines.join('\n').includes(user.password), 'the password is never printed');

    stop.abort();
    assert.match(await ended, /stopped: build pod tracelab-build\/build-backend-[0-9a-f]{6} was deleted/);
    assert.equal(await cluster.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'tracelab-build', name }), undefined, 'the Secret is gone with the build');
    await waitFor('the build pod to be gone', async () => ((await cluster.get({ apiVersion: 'v1', kind: 'Pod', namespace: 'tracelab-build', name })) === undefined ? true : undefined));
  });
});
