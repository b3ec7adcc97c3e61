/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// Integration on a real node: `tracelab up mesh --artifacts` on a cluster bootstrapped from the
// artifacts. istiod (pilot-discovery built from istio.io/istio) and the istio-cni node agent run as
// real pods from locally assembled images; the ingress gateway's Envoy cannot (C++: no image here)
// and is seen waiting for its image. The real API server calls istiod's validating webhook (a bad
// VirtualService is refused, in one line naming what is wrong) and its injector (each demo pod, created
// as a server-side dry run, comes back with the sidecar and no privileged init container, admitted
// by Pod Security `restricted`). A re-apply changes nothing; the teardown leaves nothing: no CRDs,
// webhooks, root-certificate copies, nor istio-cni files on the node.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject, V1Container, V1DaemonSet, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { readinessOf } from '../../core/kube/readiness.ts';
import { explainKubeError } from '../../core/kube/report.ts';
import { demoLayer } from '../../demo/layer.ts';
import { istioImages } from '../../mesh/istio-operator.ts';
import { meshNamespaces } from '../../mesh/names.ts';
import { componentPath, isBuilt, requireComponents, type ComponentBinary } from '../../testenv/components.ts';
import { sharedArtifactsDir } from '../../testenv/artifacts.ts';
import { createLab, type Lab } from '../../testenv/nodes/lab.ts';
import type { TestNode } from '../../testenv/nodes/node.ts';
import { nodeHarnessUnavailable, requireNodeHarness } from '../../testenv/nodes/requirements.ts';
import { nodeTestImage, nodeTestImageArchive, runToCompletion } from '../bootstrap/real-node.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const binaries = [
  ...['kubelet', 'kubeadm', 'kube-proxy', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'crictl', 'coredns', 'pause', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
  ...['pilot-discovery', 'istioctl', 'install-cni', 'cni/istio-cni'],
] as ComponentBinary[];
const demoNamespace = 'tracelab-demo';
/**
 * What istio-cni could leave on a node: its plugin, its entry in the CNI config, its kubeconfig, its
 * socket. The plugin's own log in /run (cleared at boot) is the one file it leaves, said in the README.
 */
const nodeLeftovers = 'ls /opt/cni/bin | grep -i istio; grep -ls istio /etc/cni/net.d/*; ls /etc/cni/net.d | grep -i istio; ls /var/run/istio-cni 2>/dev/null | grep -vx istio-cni.log; true';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    assert.ok(Date.now() < deadline, `${what} within ${String(timeoutMs / 1000)} s${last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** The demo's pods as their Deployments would create them. */
function demoPods(): V1Pod[] {
  const objects = demoLayer.render(demoLayer.parseOptions({ images: `frontend=${nodeTestImage},backend=${nodeTestImage}` }));
  return objects
    .filter((object): object is V1Deployment => object.kind === 'Deployment')
    .map((deployment) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: `${deployment.metadata?.name ?? ''}-`, namespace: demoNamespace, labels: deployment.spec?.template.metadata?.labels, annotations: deployment.spec?.template.metadata?.annotations },
      spec: deployment.spec?.template.spec,
    }));
}

describe('the mesh layer on a real node: istiod and istio-cni as real pods, the webhooks called by the API server', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-mesh-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, binaries) !== undefined && node !== undefined;
  const tracelab = async (...args: string[]): Promise<{ status: number; stdout: string; stderr: string; ms: number }> => {
    const started = Date.now();
    const result = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, ...args], { nothrow: true, env: { CI: 'true' } });
    return { status: result.exitCode, stdout: result.stdout, stderr: result.stderr, ms: Date.now() - started };
  };
  const onNode = async (script: string): Promise<string> => (await (node as TestNode).executor.run(['sh', '-c', script])).stdout.trim();

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !binaries.every(isBuilt)) return;
    lab = await createLab({ purpose: 'test/mesh/istio.test.ts' });
    node = await lab.addNode('mesh1');
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs istiod and istio-cni from the artifacts; only the gateway, Envoy, waits for an image that cannot be had here', async (t) => {
    if (!ready(t)) return;
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
    const boot = await tracelab('bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--no-layers', '--timeout', '5m');
    assert.equal(boot.status, 0, boot.stderr);
    kube = createKube({ kubeconfig, context: 'tracelab' });

    const up = await tracelab('up', 'mesh', '--artifacts', artifacts, '--no-wait', '--timeout', '3m');
    t.diagnostic(`up mesh: ${String(up.ms)} ms`);
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stderr, /Generate Istio manifests \(istioctl manifest generate, offline\)/);
    assert.match(up.stderr, /^mesh: \d+ created, 0 changed, 0 unchanged, 0 pruned/m);

    const client = kube;
    const istiod = await until('istiod available', 180_000, async () => {
      const deployment = await client.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'istiod', namespace: meshNamespaces.root });
      return readinessOf(deployment).ready ? deployment : undefined;
    });
    assert.equal(istiod.spec?.template.spec?.containers[0]?.image, istioImages.pilot);
    await until('istio-cni on every node', 120_000, async () => {
      const agent = await client.get<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'istio-cni-node', namespace: meshNamespaces.cni });
      return readinessOf(agent).ready ? agent : undefined;
    });
    const [istiodPod] = (await client.list<V1Pod>('v1', 'Pod', { namespace: meshNamespaces.root, labelSelector: 'app=istiod' })).items;
    assert.equal(istiodPod?.status?.containerStatuses?.[0]?.restartCount, 0, 'istiod never restarted');
    // Envoy is C++ and cannot be built or fetched here: the gateway's pod waits for its image.
    const waiting = await until('the gateway waiting for its proxy image', 120_000, async () => {
      const pods = (await client.list<V1Pod>('v1', 'Pod', { namespace: meshNamespaces.root, labelSelector: 'app=istio-ingressgateway' })).items;
      const reason = pods[0]?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      return reason === 'ErrImagePull' || reason === 'ImagePullBackOff' ? reason : undefined;
    });
    t.diagnostic(`gateway: ${waiting}`);
    assert.match(waiting, /ErrImagePull|ImagePullBackOff/);
  });

  it('puts the CNI plugin on the node, chained into its network config, and pods outside the mesh still start', async (t) => {
    if (!ready(t) || kube === undefined) return;
    assert.match(await onNode('ls /opt/cni/bin'), /^istio-cni$/m);
    assert.match(await onNode('cat /etc/cni/net.d/*.conflist'), /"type": ?"istio-cni"/);
    writeFileSync(join(work, 'node-image.tar'), await nodeTestImageArchive());
    await (node as TestNode).executor.run(['ctr', '--namespace', 'k8s.io', 'images', 'import', join(work, 'node-image.tar')]);
    const log = await runToCompletion(kube, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'outside-the-mesh', namespace: 'default' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'hello', image: nodeTestImage, imagePullPolicy: 'Never', args: ['-e', "console.log('started')"] }] },
    });
    assert.equal(log.trim(), 'started');
  });

  it('re-applies with 0 changes', async (t) => {
    if (!ready(t)) return;
    const again = await tracelab('up', 'mesh', '--artifacts', artifacts, '--no-wait', '--timeout', '3m');
    t.diagnostic(`up mesh again: ${String(again.ms)} ms`);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /^mesh: 0 created, 0 changed, \d+ unchanged, 0 pruned/m);
  });

  it('`mesh fault` injects a preset into backend\'s route; a later `up mesh` keeps it; `off` removes it', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const client = kube;
    const backendRoute = async (): Promise<{ fault?: unknown }> => {
      const vs = await client.get<KubernetesObject & { spec: { http: { fault?: unknown }[] } }>({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', name: 'backend', namespace: meshNamespaces.root });
      return vs?.spec.http[0] ?? {};
    };
    const delay = await tracelab('mesh', 'fault', 'backend-delay', '--artifacts', artifacts, '--no-wait');
    assert.equal(delay.status, 0, delay.stderr);
    assert.match(delay.stderr, /^mesh: 0 created, 1 changed, \d+ unchanged, 0 pruned/m);
    assert.match(delay.stderr, /^backend-delay: half of frontend's calls to backend wait 2 s/m);
    assert.deepEqual((await backendRoute()).fault, { delay: { percentage: { value: 50 }, fixedDelay: '2s' } });
    const again = await tracelab('up', 'mesh', '--artifacts', artifacts, '--no-wait');
    assert.match(again.stderr, /^mesh: 0 created, 0 changed, \d+ unchanged, 0 pruned/m, 'a re-run keeps the live preset');
    const bad = await tracelab('mesh', 'fault', 'slow');
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr.trim(), "✗ unknown fault preset 'slow': choose one of off, backend-delay, backend-abort");
    const off = await tracelab('mesh', 'fault', 'off', '--artifacts', artifacts, '--no-wait');
    assert.equal(off.status, 0, off.stderr);
    assert.equal((await backendRoute()).fault, undefined);
  });

  it("has the API server call istiod's validating webhook: a bad VirtualService is refused in one line naming what is wrong", async (t) => {
    if (!ready(t) || kube === undefined) return;
    const client = kube;
    const bad: KubernetesObject = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'bad-route', namespace: 'default' },
      // The CRD's schema takes any number here: only istiod's validation refuses it.
      spec: { hosts: ['backend'], http: [{ route: [{ destination: { host: 'backend' } }], fault: { abort: { percentage: { value: 150 }, httpStatus: 503 } } }] },
    } as KubernetesObject;
    const err = await until('the webhook to answer', 60_000, async () => {
      try {
        await client.request('POST', await client.path({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: 'default' }), { body: bad });
      } catch (error) {
        return error as Error;
      }
      // Created: the webhook was not called yet (its failure policy is Ignore until istiod has patched it); try again.
      await client.request('DELETE', await client.path({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', namespace: 'default', name: 'bad-route' }));
      return undefined;
    });
    const line = explainKubeError('apply', { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', name: 'bad-route', namespace: 'default' }, err).message;
    t.diagnostic(line);
    assert.equal(line.split('\n').length, 1);
    assert.match(line, /validation\.istio\.io/);
    assert.match(line, /percentage 150 is neither 0\.0, nor in range/);
  });

  it("has the API server call istiod's injector: each demo pod gets the sidecar, no privileged init container, and is admitted as restricted", async (t) => {
    if (!ready(t) || kube === undefined) return;
    const client = kube;
    // The demo's namespace (injection on, Pod Security restricted), ServiceAccounts and Services, as the demo layer renders them.
    const identities = demoLayer.render(demoLayer.parseOptions({ images: `frontend=${nodeTestImage},backend=${nodeTestImage}` })).filter((object) => ['Namespace', 'ServiceAccount', 'Service'].includes(object.kind ?? ''));
    for (const object of identities) await client.request('POST', await client.path({ apiVersion: 'v1', kind: object.kind ?? '', namespace: object.metadata?.namespace }), { body: object });
    for (const pod of demoPods()) {
      const created = await client.request<V1Pod>('POST', await client.path({ apiVersion: 'v1', kind: 'Pod', namespace: demoNamespace }), { body: pod, query: { dryRun: 'All' } });
      const name = pod.metadata?.labels?.app ?? '?';
      const all: V1Container[] = [...(created.spec?.initContainers ?? []), ...(created.spec?.containers ?? [])];
      const proxy = all.find((container) => container.name === 'istio-proxy');
      assert.ok(proxy !== undefined, `${name}: the injector added istio-proxy (${all.map((c) => c.name).join(', ')})`);
      assert.equal(proxy.image, istioImages.proxy);
      assert.equal(all.some((container) => container.name === 'istio-init'), false, `${name}: no istio-init (istio-cni redirects the traffic)`);
      for (const container of all) {
        assert.equal(container.securityContext?.privileged ?? false, false, `${name}/${container.name} unprivileged`);
        assert.deepEqual(container.securityContext?.capabilities?.add ?? [], [], `${name}/${container.name} adds no capability`);
      }
      assert.ok(created.metadata?.annotations?.['sidecar.istio.io/status'] !== undefined, `${name}: injection recorded`);
      t.diagnostic(`${name}: ${all.map((c) => c.name).join(', ')} — admitted by Pod Security restricted`);
    }
    assert.deepEqual((await client.list<V1Pod>('v1', 'Pod', { namespace: demoNamespace })).items, [], 'a dry run creates nothing');
  });

  it('`istioctl analyze` finds no errors in the live mesh, the demo\'s Services there', async (t) => {
    if (!ready(t) || kube === undefined) return;
    const client = kube;
    t.after(async () => {
      await client.request('DELETE', await client.path({ apiVersion: 'v1', kind: 'Namespace', name: demoNamespace }));
    });
    const analyzed = await (node as TestNode).executor.run([componentPath('istioctl'), 'analyze', '--kubeconfig', kubeconfig, '--all-namespaces', '--failure-threshold', 'Error'], { nothrow: true });
    t.diagnostic((analyzed.stdout + analyzed.stderr).trim().split('\n').slice(0, 5).join(' | '));
    assert.equal(analyzed.exitCode, 0, analyzed.stdout + analyzed.stderr);
  });

  it('tears down leaving nothing: no CRDs, webhooks, namespaces, root-certificate copies, nor istio-cni files on the node', async (t) => {
    if (!ready(t) || kube === undefined) return;
    // A ConfigMap by the name istiod copies, that someone else wrote: the teardown must leave it.
    await kube.request('POST', await kube.path({ apiVersion: 'v1', kind: 'Namespace' }), { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mine' } } });
    // istiod copies its certificate there at once: someone adds to it (or makes it first).
    await kube.request('PATCH', await kube.path({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'mine', name: 'istio-ca-root-cert' }), {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio-ca-root-cert', namespace: 'mine' }, data: { note: 'not istiod\'s' } },
      query: { fieldManager: 'someone', force: true },
      contentType: 'application/apply-patch+yaml',
    });
    const down = await tracelab('teardown', 'mesh', '--timeout', '3m');
    t.diagnostic(`teardown mesh: ${String(down.ms)} ms`);
    assert.equal(down.status, 0, down.stderr);
    assert.match(down.stderr, /ConfigMap default\/istio-ca-root-cert \(istiod's copy\) deleted/);
    const client = kube;
    const named = async (apiVersion: string, kind: string, pattern: RegExp): Promise<string[]> =>
      (await client.list(apiVersion, kind)).items.map((object) => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`).filter((name) => pattern.test(name));
    assert.deepEqual(await named('apiextensions.k8s.io/v1', 'CustomResourceDefinition', /istio\.io$/), []);
    assert.deepEqual(await named('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', /istio/), []);
    assert.deepEqual(await named('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', /istio/), []);
    assert.deepEqual(await named('v1', 'Namespace', /istio/), []);
    assert.deepEqual(await named('v1', 'ConfigMap', /istio/), ['mine/istio-ca-root-cert'], "only the one someone else wrote");
    assert.deepEqual(await named('rbac.authorization.k8s.io/v1', 'ClusterRole', /istio/), []);
    assert.equal(await onNode(nodeLeftovers), '', 'istio-cni removed its plugin, its config and its socket from the node');
    t.diagnostic(`left in /var/run/istio-cni: ${await onNode('ls /var/run/istio-cni 2>/dev/null; true') || 'nothing'}`);
  });
});
