/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// A three-node lab over SSH on real nodes: each a network + mount namespace running its own sshd,
// containerd and kubelet on one private segment with no route out. `tracelab bootstrap --inventory`
// runs on this machine, as on a person's laptop, and reaches the nodes only through SSH.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { V1Deployment, V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { deployLayer } from '../../core/kube/apply.ts';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { forwardToService } from '../../core/kube/port-forward.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { requireComponents, type ComponentBinary } from '../../testenv/components.ts';
import { createLab, type Lab } from '../../testenv/nodes/lab.ts';
import type { TestNode } from '../../testenv/nodes/node.ts';
import { nodeHarnessUnavailable, requireNodeHarness, requireSshd, sshdUnavailable } from '../../testenv/nodes/requirements.ts';
import { startSshd, type NodeSshd } from '../../testenv/nodes/sshd.ts';
import { nodeTestImageArchive, runToCompletion, scriptContainer, snapshotScript, webObjects } from './real-node.ts';
import { sharedArtifactsDir } from '../../testenv/artifacts.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const nodeBinaries: readonly ComponentBinary[] = [
  ...(['kubelet', 'kubeadm', 'kube-proxy', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'crictl', 'coredns', 'pause', 'etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const),
  ...(['flanneld', 'flannel-install-conf', 'cni/flannel', 'jaeger', 'prometheus', 'node-exporter', 'metrics-server', 'registry', 'buildkitd', 'buildctl'] as const),
];
const names = ['cp1', 'worker1', 'worker2'] as const;

interface Run {
  readonly status: number;
  readonly stderr: string;
  readonly ms: number;
}

describe('a three-node lab over SSH on real nodes', () => {
  let lab: Lab | undefined;
  const nodes = new Map<string, TestNode>();
  const sshds = new Map<string, NodeSshd>();
  const pristine = new Map<string, string>();
  let kube: KubeClient | undefined;
  const work = mkdtempSync(join(tmpdir(), 'tracelab-lab3-'));
  const artifacts = sharedArtifactsDir();
  const kubeconfig = join(work, 'kubeconfig');
  const inventory = join(work, 'lab.yaml');
  const sshConfig = join(work, 'ssh_config');

  const ready = (t: TestContext): boolean => requireNodeHarness(t) && requireSshd(t) && requireComponents(t, nodeBinaries) !== undefined && lab !== undefined;
  const node = (name: string): TestNode => {
    const found = nodes.get(name);
    assert.ok(found, `node ${name}`);
    return found;
  };
  const snapshot = async (name: string): Promise<string> => (await node(name).executor.run(['sh', '-c', snapshotScript])).stdout;

  /** The CLI on this machine, talking to the nodes over SSH; onStderr sees its output as it comes. */
  const tracelab = (args: readonly string[], onStderr?: (text: string) => void): Promise<Run> =>
    new Promise((resolve) => {
      const started = Date.now();
      const child = spawn(process.execPath, [cli, '--kubeconfig', kubeconfig, ...args], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text: string) => {
        stderr += text;
        onStderr?.(stderr);
      });
      child.on('close', (code) => {
        resolve({ status: code ?? 1, stderr, ms: Date.now() - started });
      });
    });
  const labArgs = (...more: string[]): string[] => ['--inventory', inventory, '--ssh-config', sshConfig, '--accept-new-host-keys', ...more];
  const bootstrapArgs = (...more: string[]): string[] => ['bootstrap', ...labArgs('--artifacts', artifacts, '--node-profile', 'worker', '--timeout', '5m', ...more)];

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined || sshdUnavailable() !== undefined) return;
    lab = await createLab({ purpose: 'test/bootstrap/multinode.test.ts' });
    for (const name of names) {
      const added = await lab.addNode(name);
      nodes.set(name, added);
      sshds.set(name, await startSshd(lab, added));
      // As in the standalone test: the Service range routed onto the segment (the nodes have no default route).
      await added.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
      pristine.set(name, await snapshot(name));
    }
    const hosts = names.map((name) => {
      const sshd = sshds.get(name);
      assert.ok(sshd);
      return {
        name,
        address: sshd.address,
        roles: [name === 'cp1' ? 'control-plane' : 'worker'],
        ssh: { user: sshd.user, port: sshd.port, identityFile: sshd.identityFile },
        labels: { 'tracelab.dev/profile': name === 'cp1' ? 'control-plane' : 'worker' },
        kubeletCgroupRoot: node(name).cgroupRoot,
      };
    });
    writeFileSync(inventory, stringify({ cni: 'flannel', podSubnet: '10.244.0.0/16', contextName: 'lab3', hosts }));
    // The test's own known_hosts: the person's ~/.ssh is not touched.
    writeFileSync(sshConfig, `Host *\n  UserKnownHostsFile ${join(work, 'known_hosts')}\n`);
    const built = spawnSync(process.execPath, [cli, 'artifacts', 'build', '--out', artifacts], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(built.status, 0, built.stderr);
  });

  after(async () => {
    await kube?.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('bootstrap --inventory --dry-run prints what it would do on each host and changes nothing on any', async (t) => {
    if (!ready(t)) return;
    const run = await tracelab(['--dry-run', ...bootstrapArgs()]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^ {2}worker2\$ copy \d+ files from \S+ to \/var\/lib\/tracelab\/artifacts$/m);
    assert.match(run.stderr, /^ {2}cp1\$ kubeadm init --config \/etc\/tracelab\/kubeadm\.yaml --skip-token-print$/m);
    assert.match(run.stderr, /^ {2}cp1\$ kubeadm token create --ttl 15m /m);
    assert.match(run.stderr, /would join worker1 with a fresh 15-minute token/);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the SSH sessions' sshd processes end
    for (const name of names) assert.equal(await snapshot(name), pristine.get(name), `${name} unchanged by the dry run`);
  });

  it('bootstrap --inventory: an SSH connection cut mid-run is one error naming host and step; the re-run resumes without repeating finished steps', async (t) => {
    if (!ready(t)) return;
    let cut: Promise<unknown> | undefined;
    const first = await tracelab(bootstrapArgs(), (stderr) => {
      if (cut !== undefined || !/✓ worker2: Copy the artifacts to the host/.test(stderr)) return;
      // worker2 drops off the network mid-run: its next command over SSH never gets an answer.
      cut = node('worker2').executor.run(['ip', 'link', 'set', 'eth0', 'down']);
    });
    assert.ok(cut, first.stderr);
    await cut;
    await node('worker2').executor.run(['ip', 'link', 'set', 'eth0', 'up']);
    await node('worker2').executor.run(['ip', 'route', 'replace', '10.96.0.0/12', 'dev', 'eth0']);
    assert.equal(first.status, 1, first.stderr);
    const failure = first.stderr.trim().split('\n').at(-1) ?? '';
    assert.match(failure, /^✗ worker2: .+ failed: worker2 \(root@[\d.]+:22\): SSH connection failed: .* — fix the cause and run the same command again: finished steps are skipped$/);
    assert.doesNotMatch(first.stderr, /(cp1|worker1): .* failed/);

    const resumed = await tracelab(bootstrapArgs('--no-layers'));
    assert.equal(resumed.status, 0, resumed.stderr);
    t.diagnostic(`resumed run took ${resumed.ms} ms`);
    for (const name of names) assert.match(resumed.stderr, new RegExp(`✓ ${name}: Copy the artifacts to the host \\(already done\\)`), resumed.stderr);
    assert.match(resumed.stderr, /✓ cp1: Install containerd, runc, CNI plugins, kubelet, kubeadm and kubectl \(already done\)/);
    assert.match(resumed.stderr, /✓ worker1: kubeadm join \(worker\)/);
    assert.match(resumed.stderr, /✓ worker2: kubeadm join \(worker\)/);
  });

  it('gives three Ready nodes with their labels, Flannel on each, the monitoring layer with node-exporter only on the workers', async (t) => {
    if (!ready(t)) return;
    const run = await tracelab(bootstrapArgs());
    assert.equal(run.status, 0, run.stderr);
    kube = createKube({ kubeconfig, context: 'lab3' });
    const listed = await kube.list<V1Node>('v1', 'Node');
    assert.deepEqual(listed.items.map((n) => n.metadata?.name).sort(), [...names]);
    for (const item of listed.items) {
      assert.ok(item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), `${String(item.metadata?.name)} Ready`);
      assert.equal(item.metadata?.labels?.['tracelab.dev/profile'], item.metadata?.name === 'cp1' ? 'control-plane' : 'worker');
    }
    const pods = await kube.list<V1Pod>('v1', 'Pod');
    const on = (prefix: string): string[] =>
      pods.items
        .filter((p) => p.metadata?.name?.startsWith(prefix) === true && p.status?.phase === 'Running')
        .map((p) => p.spec?.nodeName ?? '')
        .sort();
    assert.deepEqual(on('flannel-'), [...names]);
    assert.deepEqual(on('node-exporter-'), ['worker1', 'worker2']);
  });

  it('a pod on worker1 resolves a Service by DNS and gets an answer from a pod on worker2', async (t) => {
    if (!ready(t)) return;
    assert.ok(kube);
    writeFileSync(join(work, 'node-image.tar'), await nodeTestImageArchive());
    for (const name of ['worker1', 'worker2']) await node(name).executor.run(['ctr', '--namespace', 'k8s.io', 'images', 'import', join(work, 'node-image.tar')]);
    await deployLayer(kube, { layer: 'dns-check', objects: webObjects('worker2'), dryRun: false, timeoutMs: 120_000, output: createRecordingOutput() });
    const log = await runToCompletion(kube, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: 'dns-check' },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: { 'kubernetes.io/hostname': 'worker1' },
        containers: [
          scriptContainer(
            'client',
            "const until = Date.now() + 30000; const attempt = () => require('dns').lookup('web.dns-check.svc.cluster.local', (err, address) => { if (err) { if (Date.now() > until) throw err; return setTimeout(attempt, 500); } require('http').get('http://web.dns-check.svc.cluster.local/', (res) => { let body = ''; res.on('data', (c) => body += c); res.on('end', () => console.log(JSON.stringify({ address, body }))); }).on('error', (e) => { if (Date.now() > until) throw e; setTimeout(attempt, 500); }); }); attempt();",
          ),
        ],
      },
    });
    const answer = JSON.parse(log.trim()) as { address: string; body: string };
    const service = await kube.get<{ spec: { clusterIP: string } } & V1Node>({ apiVersion: 'v1', kind: 'Service', name: 'web', namespace: 'dns-check' });
    assert.equal(answer.address, service?.spec.clusterIP);
    assert.match(answer.body, /^hello from web-/);
    const server = (await kube.list<V1Pod>('v1', 'Pod', { namespace: 'dns-check', labelSelector: 'app=web' })).items[0];
    assert.equal(server?.spec?.nodeName, 'worker2');
    await deployLayer(kube, { layer: 'dns-check', objects: [], dryRun: false, timeoutMs: 120_000, output: createRecordingOutput(), confirm: () => Promise.resolve(true) });
  });

  it('deploy:demo across the nodes: built in the cluster, pulled by every worker from the lab registry; frontend on one node reaches backend on the other by DNS, one trace in Jaeger', async (t) => {
    if (!ready(t)) return;
    assert.ok(kube);
    const namespace = 'tracelab-demo';
    const run = await tracelab(['deploy', 'demo', '--artifacts', artifacts, '--replicas', '2', '--timeout', '8m']);
    t.diagnostic(`deploy:demo on three nodes: ${String(run.ms)} ms`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^ {2}backend: built sha256:[0-9a-f]{12}/m);
    const pods = (await kube.list<V1Pod>('v1', 'Pod', { namespace })).items.filter((p) => p.metadata?.deletionTimestamp === undefined);
    for (const service of ['frontend', 'backend']) {
      const placed = pods.filter((p) => p.metadata?.labels?.app === service).map((p) => p.spec?.nodeName ?? '');
      assert.deepEqual(placed.sort(), ['worker1', 'worker2'], `${service} spread over the workers, each pulled its image from the lab registry`);
    }

    const frontend = await forwardToService(kube, namespace, 'frontend', 8080);
    try {
      const url = `http://127.0.0.1:${String(frontend.port)}`;
      const discovery = (await (await fetch(`${url}/api/discovery`)).json()) as { dns: { addresses?: string[] }; agree: boolean | null };
      assert.equal(discovery.agree, true, JSON.stringify(discovery));
      // The frontend keeps its connection to one backend; to make the crossing certain, its node gets no
      // backend: cordoned, the backends there deleted, their replacements scheduled on the other worker.
      type Hello = { pod: string; backend: { pod: string }; traceId: string };
      const hello = async (): Promise<Hello> => (await (await fetch(`${url}/api/hello`)).json()) as Hello;
      // The answering pod is looked up now: the list above may predate it.
      const first = await hello();
      const here = (await kube.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', name: first.pod, namespace }))?.spec?.nodeName ?? '';
      assert.notEqual(here, '', `the node of frontend pod ${first.pod}`);
      const cordon = (unschedulable: boolean): Promise<unknown> => (kube as KubeClient).request('PATCH', `/api/v1/nodes/${here}`, { body: { spec: { unschedulable } }, contentType: 'application/merge-patch+json' });
      await cordon(true);
      let crossing: Hello | undefined;
      try {
        const backendsHere = (await kube.list<V1Pod>('v1', 'Pod', { namespace, labelSelector: 'app=backend' })).items.filter((p) => p.spec?.nodeName === here);
        for (const pod of backendsHere) {
          await kube.request('DELETE', `/api/v1/namespaces/${namespace}/pods/${pod.metadata?.name ?? ''}`);
        }
        const deadline = Date.now() + 120_000;
        while (crossing === undefined && Date.now() < deadline) {
          const answer = await hello().catch(() => undefined);
          const backendNode = answer === undefined ? undefined : (await kube.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', name: answer.backend.pod, namespace }))?.spec?.nodeName;
          if (answer !== undefined && backendNode !== undefined && backendNode !== here) crossing = answer;
          else await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      } finally {
        await cordon(false);
      }
      assert.ok(crossing, `a request from frontend on ${here} answered by backend on the other worker`);
      t.diagnostic(`frontend ${crossing.pod} on ${here} → backend ${crossing.backend.pod} on the other worker`);
      const jaeger = await forwardToService(kube, 'jaeger', 'jaeger-query', 16686);
      try {
        const deadline = Date.now() + 60_000;
        let services = new Set<string>();
        while (!(services.has('frontend') && services.has('backend')) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          const found = (await (await fetch(`http://127.0.0.1:${String(jaeger.port)}/api/traces/${crossing.traceId}`)).json().catch(() => ({}))) as { data?: { processes: Record<string, { serviceName: string }> }[] };
          services = new Set(Object.values(found.data?.[0]?.processes ?? {}).map((p) => p.serviceName));
        }
        assert.deepEqual([...services].sort(), ['backend', 'frontend'], 'the crossing request is one trace with both services');
      } finally {
        await jaeger.close();
      }
    } finally {
      await frontend.close();
    }
    const removed = await tracelab(['--yes', 'teardown', 'demo']);
    assert.equal(removed.status, 0, removed.stderr);
  });

  it('re-runs changing nothing: every step on every host finds its work done', async (t) => {
    if (!ready(t)) return;
    const run = await tracelab(bootstrapArgs());
    assert.equal(run.status, 0, run.stderr);
    t.diagnostic(`no-change re-run took ${run.ms} ms`);
    const skipped = run.stderr.split('\n').filter((line) => line.endsWith('(already done)'));
    // every host: 4 after preflight; the control plane: init, kubeconfig, pod network; the workers: join; every node: labels
    assert.equal(skipped.length, 3 * 4 + 3 + 2 + 3, run.stderr);
    assert.doesNotMatch(run.stderr, /kubeadm token create/);
    assert.match(run.stderr, /monitoring: 0 created, 0 changed, \d+ unchanged, 0 pruned/);
  });

  it('drain: a PodDisruptionBudget blocks it by name and DaemonSet pods stay; node remove leaves a clean host', async (t) => {
    if (!ready(t)) return;
    assert.ok(kube);
    const labels = { app: 'guarded' };
    await deployLayer(kube, {
      layer: 'drain-check',
      objects: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'drain-check' } },
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'guarded', namespace: 'drain-check' },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: { metadata: { labels }, spec: { nodeSelector: { 'kubernetes.io/hostname': 'worker2' }, containers: [scriptContainer('server', 'setInterval(() => {}, 1000)')] } },
          },
        } as V1Deployment,
        { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'keep-one', namespace: 'drain-check' }, spec: { minAvailable: 1, selector: { matchLabels: labels } } } as V1PodDisruptionBudget,
      ],
      dryRun: false,
      timeoutMs: 120_000,
      output: createRecordingOutput(),
    });
    const blocked = await tracelab(['node', 'drain', 'worker2', '--timeout', '15s']);
    assert.equal(blocked.status, 6, blocked.stderr);
    assert.match(blocked.stderr, /drain-check\/guarded-[a-z0-9-]+.*PodDisruptionBudget drain-check\/keep-one allows 0 disruptions/);
    const exporter = (await kube.list<V1Pod>('v1', 'Pod', { fieldSelector: 'spec.nodeName=worker2' })).items.filter((p) => p.metadata?.name?.startsWith('node-exporter-') === true);
    assert.equal(exporter.length, 1, 'node-exporter stays on the drained node');
    assert.ok(exporter[0]?.metadata?.deletionTimestamp === undefined);

    await kube.request('DELETE', `${await kube.path({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', namespace: 'drain-check' })}/keep-one`);
    const removed = await tracelab(['--yes', 'node', 'remove', 'worker2', ...labArgs('--timeout', '2m')]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal(await kube.get({ apiVersion: 'v1', kind: 'Node', name: 'worker2' }), undefined, 'the Node is gone');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(await snapshot('worker2'), pristine.get('worker2'), 'worker2 is as it was before the lab');
    await deployLayer(kube, { layer: 'drain-check', objects: [], dryRun: false, timeoutMs: 120_000, output: createRecordingOutput(), confirm: () => Promise.resolve(true) });
  });

  it('tracelab reset --inventory leaves every node as it was', async (t) => {
    if (!ready(t)) return;
    await kube?.close();
    kube = undefined;
    const run = await tracelab(['--yes', 'reset', ...labArgs()]);
    assert.equal(run.status, 0, run.stderr);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const name of names) assert.equal(await snapshot(name), pristine.get(name), `${name} is as it was; reset said:\n${run.stderr}`);
  });
});
