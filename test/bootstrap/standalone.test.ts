/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// Integration on a real node: `tracelab artifacts build`, then `tracelab bootstrap --artifacts …`
// run inside a test node (its own network and mount namespaces on a private segment with no route
// out), a pod answering another through cluster DNS, a no-change re-run, a run killed half-way and
// resumed, and `tracelab reset` leaving the node as it was.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { deployLayer } from '../../core/kube/apply.ts';
import { waitForReady } from '../../core/kube/wait.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { UserError } from '../../core/errors.ts';
import { cacheBin } from '../../bootstrap/artifacts/sources.ts';
import { isBuilt, requireComponents, type ComponentBinary } from '../../testenv/components.ts';
import { createLab, type Lab } from '../../testenv/nodes/lab.ts';
import type { TestNode } from '../../testenv/nodes/node.ts';
import { requireNodeHarness, nodeHarnessUnavailable } from '../../testenv/nodes/requirements.ts';
import { nodeTestImageArchive, runToCompletion, scriptContainer, snapshotScript, webObjects } from './real-node.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const nodeBinaries: ComponentBinary[] = [
  ...['kubelet', 'kubeadm', 'kube-proxy', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'crictl', 'coredns', 'pause', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'],
  ...['jaeger', 'prometheus', 'node-exporter', 'metrics-server'],
] as ComponentBinary[];

describe('tracelab bootstrap on a real node', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let kube: KubeClient | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-bootstrap-'));
  const artifacts = join(work, 'artifacts');
  const kubeconfig = join(work, 'kubeconfig');
  let pristine = '';

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireComponents(t, nodeBinaries) !== undefined && lab !== undefined && node !== undefined;

  /** The CLI inside the node, as a person on that host would run it. */
  const tracelab = async (...args: string[]): Promise<{ status: number; stderr: string; ms: number }> => {
    const started = Date.now();
    const result = await (node as TestNode).executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, ...args], { nothrow: true, env: { CI: 'true' } });
    return { status: result.exitCode, stderr: result.stderr, ms: Date.now() - started };
  };
  const bootstrapArgs = (...more: string[]): string[] => ['bootstrap', '--artifacts', artifacts, '--node-labels', 'tracelab.dev/profile=standalone', '--kubelet-cgroup-root', (node as TestNode).cgroupRoot, '--timeout', '4m', ...more];

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || !nodeBinaries.every(isBuilt)) return;
    lab = await createLab({ purpose: 'test/bootstrap/standalone.test.ts' });
    node = await lab.addNode('lab1');
    pristine = (await node.executor.run(['sh', '-c', snapshotScript])).stdout;
    // A real host reaches Service addresses through its default route, which kube-proxy's rules
    // catch; this node has none, so the Service range gets a route onto the lab segment, where the
    // host forwards nothing. Without it the API server could not reach metrics-server's API.
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
  });

  after(async () => {
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('tracelab artifacts build makes the directory from the component cache; a re-run writes nothing', async (t) => {
    if (!ready(t)) return;
    const first = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /wrote 32 files in .* \(Kubernetes v1\.37\.2, 18 images, the Node 24\.\d+\.\d+ base image\)/);
    const manifest = JSON.parse(readFileSync(join(artifacts, 'manifest.json'), 'utf8')) as { images: { reference: string }[] };
    assert.deepEqual(manifest.images.map((i) => i.reference).sort(), [
      'cr.jaegertracing.io/jaegertracing/jaeger:2.13.0',
      'docker.io/istio/install-cni:1.31.0',
      'docker.io/istio/pilot:1.31.0',
      'docker.io/library/registry:3.1.2',
      'docker.io/moby/buildkit:v0.34.2',
      'docker.io/moby/buildkit:v0.34.2-rootless',
      'docker.io/rancher/local-path-provisioner:v0.0.30',
      'quay.io/prometheus/node-exporter:v1.11.1',
      'quay.io/prometheus/prometheus:v3.16.0',
      'registry.k8s.io/metrics-server/metrics-server:v0.8.0',
      'tracelab.local/k8s/coredns:v1.14.6',
      'tracelab.local/k8s/etcd:3.6.16-0',
      'tracelab.local/k8s/flannel:v0.28.10',
      'tracelab.local/k8s/kube-apiserver:v1.37.2',
      'tracelab.local/k8s/kube-controller-manager:v1.37.2',
      'tracelab.local/k8s/kube-proxy:v1.37.2',
      'tracelab.local/k8s/kube-scheduler:v1.37.2',
      'tracelab.local/k8s/pause:3.10.2',
    ]);
    const mtime = statSync(join(artifacts, 'images/kube-apiserver.tar')).mtimeMs;
    const again = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /are up to date \(32 files\)/);
    assert.equal(statSync(join(artifacts, 'images/kube-apiserver.tar')).mtimeMs, mtime, 'nothing rewritten');
  });

  it('has no route out of the lab: route lookups inside the node', async (t) => {
    if (!ready(t)) return;
    const out = await (node as TestNode).executor.run(['ip', 'route', 'get', '1.1.1.1'], { nothrow: true });
    assert.notEqual(out.exitCode, 0);
    assert.match(out.stderr, /Network is unreachable/);
    const host = await (node as TestNode).executor.run(['ip', 'route', 'get', (lab as Lab).hostAddress]);
    assert.match(host.stdout, /dev eth0/);
  });

  it('bootstrap --dry-run prints the commands it would run and changes nothing', async (t) => {
    if (!ready(t)) return;
    const run = await tracelab('--dry-run', ...bootstrapArgs());
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^ {2}lab1\$ install -D -m 0755 \S+\/bin\/kubelet \/usr\/local\/bin\/kubelet$/m);
    assert.match(run.stderr, /^ {2}lab1\$ kubeadm init --config \/etc\/tracelab\/kubeadm\.yaml --skip-token-print$/m);
    assert.match(run.stderr, /^ {2}would label node lab1: tracelab\.dev\/profile=standalone, tracelab\.dev\/pulls-lab-registry=true$/m);
    assert.equal((await (node as TestNode).executor.run(['sh', '-c', snapshotScript])).stdout, pristine);
    assert.equal(existsSync(kubeconfig), false, 'no kubeconfig written');
  });

  it('online (no --artifacts) on a host with no way out: the dry run prints the pinned packages and downloads; the real run stops at preflight, exit 4, nothing changed', async (t) => {
    if (!ready(t)) return;
    const onlineArgs = bootstrapArgs().filter((arg, i, all) => arg !== '--artifacts' && all[i - 1] !== '--artifacts');
    const dry = await tracelab('--dry-run', ...onlineArgs);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stderr, /lab1 cannot reach pkgs\.k8s\.io \(.+\), github\.com \(.+\), registry\.k8s\.io \(.+\), which the online install needs .* \(a real run would stop here\)/);
    assert.match(dry.stderr, /^ {2}lab1\$ env DEBIAN_FRONTEND=noninteractive apt-get .* install --yes --quiet --allow-change-held-packages 'kubelet=1\.37\.2-\*' 'kubeadm=1\.37\.2-\*' 'kubectl=1\.37\.2-\*'$/m);
    assert.match(dry.stderr, /^ {2}lab1\$ apt-mark hold kubelet kubeadm kubectl$/m);
    assert.match(dry.stderr, /^ {2}lab1\$ sh -c .* fetch-verified https:\/\/github\.com\/containerd\/containerd\/releases\/download\/v[\d.]+\/containerd-[\d.]+-linux-amd64\.tar\.gz [0-9a-f]{64} \/var\/lib\/tracelab\/downloads\/containerd-[\d.]+-linux-amd64\.tar\.gz$/m);
    assert.doesNotMatch(dry.stderr, /ctr --namespace k8s\.io images import/, 'online, nothing is imported: kubeadm pulls');
    const real = await tracelab(...onlineArgs);
    assert.equal(real.status, 4, real.stderr);
    assert.match(real.stderr, /lab1 cannot reach pkgs\.k8s\.io .* — give it internet access .*, or install air-gapped: `tracelab artifacts build --out DIR` on a machine with access, then `tracelab bootstrap --artifacts DIR`$/m);
    assert.equal((await (node as TestNode).executor.run(['sh', '-c', snapshotScript])).stdout, pristine);
    assert.equal(existsSync(kubeconfig), false, 'no kubeconfig written');
  });

  it('bootstrap --artifacts gives a Ready node with its labels and CoreDNS Ready, then the monitoring layer with real pods', async (t) => {
    if (!ready(t)) return;
    const run = await tracelab(...bootstrapArgs());
    assert.equal(run.status, 0, run.stderr);
    t.diagnostic(`bootstrap took ${run.ms} ms`);
    assert.match(run.stderr, /✓ lab1: kubeadm init \(control plane\)/);
    assert.match(run.stderr, /! lab1: cgroup: cgroup v1: deprecated/);
    assert.ok((statSync(kubeconfig).mode & 0o777) === 0o600, 'the kubeconfig is 0600');
    kube = createKube({ kubeconfig, context: 'tracelab' });
    const k8sNode = await kube.get<V1Node>({ apiVersion: 'v1', kind: 'Node', name: 'lab1' });
    assert.equal(k8sNode?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(k8sNode.metadata?.labels?.['tracelab.dev/profile'], 'standalone');
    assert.equal(k8sNode.spec?.taints, undefined, 'the standalone control plane runs pods');
    const coredns = await kube.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'coredns', namespace: 'kube-system' });
    assert.equal(coredns?.status?.readyReplicas, 2);
    // The layers: monitoring without Grafana (its image is never in the artifacts), rolled out with
    // real probes; metrics-server's API Available against the real kubelet (--kubelet-tls insecure).
    assert.match(run.stderr, /! leaving Grafana out: its image is not in the artifacts/);
    assert.match(run.stderr, /✓ Wait for .*DaemonSet monitoring\/node-exporter.*APIService v1beta1\.metrics\.k8s\.io/);
    const apiService = await kube.get<{ status?: { conditions?: { type: string; status: string }[] } } & V1Node>({ apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', name: 'v1beta1.metrics.k8s.io' });
    assert.equal(apiService?.status?.conditions?.find((c) => c.type === 'Available')?.status, 'True');
    const exporters = await kube.list<V1Pod>('v1', 'Pod', { namespace: 'monitoring', labelSelector: 'app=node-exporter' });
    assert.deepEqual(exporters.items.map((pod) => `${pod.spec?.nodeName ?? ''} ${pod.status?.phase ?? ''}`), ['lab1 Running']);
    const kubectl = join(cacheBin(process.env.TRACELAB_CACHE), 'kubectl');
    let top = spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'top', 'nodes', '--no-headers'], { encoding: 'utf8' });
    // metrics-server answers once it has scraped twice (15 s resolution).
    for (let i = 0; i < 30 && top.status !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      top = spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'top', 'nodes', '--no-headers'], { encoding: 'utf8' });
    }
    assert.equal(top.status, 0, top.stderr);
    assert.match(top.stdout, /^lab1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/);
  });

  it('reports an image that does not exist by name with the kubelet’s reason, well before the timeout', async (t) => {
    if (!ready(t)) return;
    assert.ok(kube, 'the cluster the bootstrap test made');
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'missing-image' } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ghost', namespace: 'missing-image' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'ghost' } }, template: { metadata: { labels: { app: 'ghost' } }, spec: { containers: [{ name: 'server', image: 'tracelab.local/missing/ghost:1' }] } } },
      },
    ];
    const started = Date.now();
    const err = await deployLayer(kube, { layer: 'missing-image', objects, dryRun: false, timeoutMs: 180_000, output: createRecordingOutput() }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.exitCode, 7);
    assert.match(err.message, /^rollout failed:\n {2}Deployment missing-image\/ghost: .*pod ghost-[a-z0-9-]+ container server (ImagePullBackOff|ErrImagePull): .*tracelab\.local\/missing\/ghost:1/s);
    assert.ok(elapsed < 60_000, `failed after ${elapsed} ms, not at the 180 s timeout`);
    await deployLayer(kube, { layer: 'missing-image', objects: [], dryRun: false, timeoutMs: 120_000, output: createRecordingOutput() });
  });

  it('runs a pod that resolves a Service by its DNS name and gets an answer from another pod, with no way out', async (t) => {
    if (!ready(t)) return;
    assert.ok(kube, 'the cluster the bootstrap test made');
    const image = join(work, 'node-image.tar');
    writeFileSync(image, await nodeTestImageArchive());
    await (node as TestNode).executor.run(['ctr', '--namespace', 'k8s.io', 'images', 'import', image]);
    await deployLayer(kube, { layer: 'dns-check', objects: webObjects(), dryRun: false, timeoutMs: 120_000, output: createRecordingOutput() });
    const log = await runToCompletion(kube, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: 'dns-check' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          scriptContainer(
            'client',
            "const fs = require('fs'); const until = Date.now() + 30000; const attempt = () => require('dns').lookup('web.dns-check.svc.cluster.local', (err, address) => { if (err) throw err; require('http').get('http://web.dns-check.svc.cluster.local/', (res) => { let body = ''; res.on('data', (c) => body += c); res.on('end', () => console.log(JSON.stringify({ address, body, routes: fs.readFileSync('/proc/net/route', 'utf8') }))); }).on('error', (e) => { if (Date.now() > until) throw e; setTimeout(attempt, 500); }); }); attempt();",
          ),
        ],
      },
    });
    const answer = JSON.parse(log.trim()) as { address: string; body: string; routes: string };
    const service = await kube.get<{ spec: { clusterIP: string } } & V1Node>({ apiVersion: 'v1', kind: 'Service', name: 'web', namespace: 'dns-check' });
    assert.equal(answer.address, service?.spec.clusterIP, 'the name resolved to the Service');
    assert.match(answer.body, /^hello from web-/);
    // kube-proxy may take a moment to write a new Service's rules: the client retries for 30 s, as a
    // person would. The pod's only way anywhere is its node (gateway 10.244.0.1 on cni0), and the node has no route out.
    const defaults = answer.routes.split('\n').filter((line) => line.split('\t')[1] === '00000000');
    assert.deepEqual(defaults.map((line) => line.split('\t')[2]), ['0100F40A'], answer.routes);
    // The client pod is this test's, not the layer's: agree to its going with the namespace.
    await deployLayer(kube, { layer: 'dns-check', objects: [], dryRun: false, timeoutMs: 120_000, output: createRecordingOutput(), confirm: () => Promise.resolve(true) });
  });

  it('re-runs changing nothing: every step finds its work done', async (t) => {
    if (!ready(t)) return;
    const run = await tracelab(...bootstrapArgs());
    assert.equal(run.status, 0, run.stderr);
    t.diagnostic(`no-change re-run took ${run.ms} ms`);
    const skipped = run.stderr.split('\n').filter((line) => line.endsWith('(already done)'));
    assert.equal(skipped.length, 7, run.stderr);
    assert.match(run.stderr, /monitoring: 0 created, 0 changed, \d+ unchanged, 0 pruned/);
  });

  it('resets the node to exactly how it was: no processes, mounts, iptables rules or files left', async (t) => {
    if (!ready(t)) return;
    await kube?.close();
    kube = undefined;
    const refused = await tracelab('reset');
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /pass --yes to confirm \(nothing was changed\)/);
    const run = await tracelab('--yes', 'reset');
    assert.equal(run.status, 0, run.stderr);
    const now = (await (node as TestNode).executor.run(['sh', '-c', snapshotScript])).stdout;
    assert.equal(now, pristine);
    assert.doesNotMatch(readFileSync(kubeconfig, 'utf8'), /name: tracelab/);
  });

  it('resumes a run killed half-way through kubeadm init', async (t) => {
    if (!ready(t)) return;
    const killed = (node as TestNode).start({ name: 'bootstrap-killed', command: process.execPath, args: [cli, '--kubeconfig', kubeconfig, ...bootstrapArgs('--no-layers')], env: { CI: 'true' } });
    const deadline = Date.now() + 120_000;
    while (!killed.logTail(50).includes('import the images')) {
      assert.ok(Date.now() < deadline && killed.exitStatus() === undefined, killed.logTail(20));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    // The CLI and what it started (kubeadm init) die at once, as on a lost SSH session or a power cut.
    // Only this node's kubeadm (its mount namespace): another lab on the machine may be running its own.
    await (node as TestNode).executor.run(['sh', '-c', 'for p in $(pgrep -f "[k]ubeadm init"); do [ "$(readlink /proc/$p/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] && kill -9 $p; done; true']);
    await killed.stop(0);
    const resumed = await tracelab(...bootstrapArgs('--no-layers'));
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /✓ lab1: Configure and start containerd \(and where the lab registry is\), import the images \(already done\)/);
    kube = createKube({ kubeconfig, context: 'tracelab' });
    await waitForReady(kube, [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system' } }], { timeoutMs: 120_000 });
    await kube.close();
    kube = undefined;
    const reset = await tracelab('--yes', 'reset');
    assert.equal(reset.status, 0, reset.stderr);
  });
});
