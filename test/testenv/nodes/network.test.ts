import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { $ } from 'zx';
import { CommandFailed } from '../../../bootstrap/executors/executor.ts';
import { waitFor } from '../../../testenv/components.ts';
import { isRunning } from '../../../testenv/processes.ts';
import { createLab, cleanupStaleLabs, type Lab } from '../../../testenv/nodes/lab.ts';
import { labRecordFile, readLabRecords } from '../../../testenv/nodes/lab-state.ts';
import { mountsUnder, PRIVATE_DIRECTORIES } from '../../../testenv/nodes/mounts.ts';
import type { TestNode } from '../../../testenv/nodes/node.ts';
import { processesOfNode, type FoundProcess, type NodeNamespaces } from '../../../testenv/nodes/node-processes.ts';
import { nodeHarnessUnavailable, requireNodeHarness } from '../../../testenv/nodes/requirements.ts';
import { readGlobalSysctls } from '../../../testenv/nodes/sysctls.ts';

const sh = $({ quiet: true });
const probe = $({ quiet: true, nothrow: true });
const LISTENER_PORT = 18080;

/** What a lab may change on the host and must put back. */
interface HostSnapshot {
  readonly sysctls: Record<string, string>;
  readonly ipForward: string;
  readonly links: string[];
  readonly netns: string[];
  readonly existingPrivateDirectories: string[];
  readonly mountPoints: string[];
}

async function snapshotHost(): Promise<HostSnapshot> {
  const links = JSON.parse((await sh`ip -j link show`).stdout) as { ifname: string }[];
  return {
    sysctls: readGlobalSysctls(),
    ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
    links: links.map((l) => l.ifname).sort(),
    netns: existsSync('/run/netns') ? readdirSync('/run/netns').sort() : [],
    existingPrivateDirectories: [...PRIVATE_DIRECTORIES, '/run/netns'].filter((dir) => existsSync(dir)),
    mountPoints: mountsUnder('/').sort(),
  };
}

function namespacesOf(lab: Lab, nodeName: string): NodeNamespaces {
  const node = readLabRecords().find((r) => r.id === lab.id)?.nodes.find((n) => n.name === nodeName);
  assert.ok(node, `lab ${lab.id} records node ${nodeName}`);
  return { mount: node.mountNamespace, network: node.networkNamespace };
}

async function tcpRead(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: 2_000 });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { data += chunk; });
    socket.on('end', () => { resolve(data); });
    socket.on('timeout', () => { socket.destroy(new Error(`no answer from ${host}:${port} within 2 s`)); });
    socket.on('error', reject);
  });
}

describe('a test node on the lab segment', () => {
  let hostBefore: HostSnapshot | undefined;
  let lab: Lab | undefined;
  let node: TestNode | undefined;

  before(async () => {
    if (nodeHarnessUnavailable() !== undefined) return;
    hostBefore = await snapshotHost();
    const started = Date.now();
    lab = await createLab({ purpose: 'test/testenv/nodes/network.test.ts' });
    const labMs = Date.now() - started;
    node = await lab.addNode('n1');
    console.log(`# lab ${lab.id} (${lab.subnet}) in ${labMs} ms, node n1 in ${Date.now() - started - labMs} ms`);
  });

  after(async () => {
    await lab?.destroy();
  });

  it('has no route out of the lab, only to the segment', async (t) => {
    if (!requireNodeHarness(t) || lab === undefined || node === undefined) return;
    const { executor } = node;
    for (const outside of ['1.1.1.1', '192.0.2.1']) {
      const lookup = await executor.run(['ip', 'route', 'get', outside], { nothrow: true });
      assert.notEqual(lookup.exitCode, 0, `route lookup for ${outside} inside the node: ${lookup.stdout}`);
      assert.match(lookup.stderr, /Network is unreachable/);
    }
    const ipv6 = await executor.run(['ip', '-6', 'route', 'get', '2606:4700:4700::1111'], { nothrow: true });
    assert.notEqual(ipv6.exitCode, 0, ipv6.stdout);
    assert.doesNotMatch((await executor.run(['ip', 'route', 'show', 'table', 'all'])).stdout, /default/);
    const toHost = await executor.run(['ip', 'route', 'get', lab.hostAddress]);
    assert.match(toHost.stdout, new RegExp(`^${lab.hostAddress.replaceAll('.', '\\.')} dev eth0 src ${node.address.replaceAll('.', '\\.')} `));
  });

  it('is reached from the host on the segment, and the host does not forward for it', async (t) => {
    if (!requireNodeHarness(t) || lab === undefined || node === undefined || hostBefore === undefined) return;
    const fromHost = await sh`ip route get ${node.address}`;
    assert.match(fromHost.stdout, new RegExp(`dev ${lab.bridge} src ${lab.hostAddress.replaceAll('.', '\\.')} `));
    const listener = node.start({
      name: 'listener',
      command: process.execPath,
      args: ['-e', `require('node:net').createServer((s) => s.end('hello from ' + require('node:os').hostname())).listen(${LISTENER_PORT}, '${node.address}')`],
    });
    const answer = await waitFor(`the listener on ${node.address}:${LISTENER_PORT}`, async () => tcpRead(node?.address ?? '', LISTENER_PORT), {
      deadlineMs: 10_000,
      status: () => listener.exitStatus() ?? listener.logTail(3),
    });
    assert.equal(answer, 'hello from n1');
    // the host's routing decision for a packet from the node arriving on the bridge: not forwarded
    const forwarded = await probe`ip route get 1.1.1.1 from ${node.address} iif ${lab.bridge}`;
    assert.notEqual(forwarded.exitCode, 0, forwarded.stdout);
    assert.match(forwarded.stderr, /No route to host/);
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${lab.bridge}/forwarding`, 'utf8').trim(), '0');
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), hostBefore.ipForward);
  });

  it('keeps its private directories to itself', async (t) => {
    if (!requireNodeHarness(t) || node === undefined) return;
    const file = '/etc/kubernetes/tracelab-test/private.conf';
    await node.executor.writeFile(file, 'only in the node\n', 0o600);
    assert.equal(await node.executor.readFile(file), 'only in the node\n');
    assert.equal((await node.executor.run(['stat', '-c', '%a', file])).stdout.trim(), '600');
    assert.equal(existsSync(file), false, 'the host does not see it');
    assert.equal(readFileSync(node.hostPath(file), 'utf8'), 'only in the node\n');
    assert.equal(await node.executor.readFile('/etc/kubernetes/missing.conf'), undefined);
    assert.equal((await node.executor.run(['hostname'])).stdout.trim(), 'n1');
    // Shared inside the node (as a host's / is: containerd needs it for HostToContainer mounts), in
    // peer groups of the node's own: a mount made in the node does not reach the host.
    const mounts = (await node.executor.run(['findmnt', '-rn', '-o', 'TARGET,PROPAGATION'])).stdout;
    for (const dir of PRIVATE_DIRECTORIES) assert.match(mounts, new RegExp(`^${dir} shared$`, 'm'), dir);
    await node.executor.run(['sh', '-c', 'mkdir -p /etc/kubernetes/tracelab-test/mnt && mount -t tmpfs tracelab-propagation-probe /etc/kubernetes/tracelab-test/mnt']);
    assert.match((await node.executor.run(['cat', '/proc/self/mountinfo'])).stdout, /tracelab-propagation-probe/);
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), /tracelab-propagation-probe/, 'the host does not get the node’s mounts');
    await node.executor.run(['umount', '/etc/kubernetes/tracelab-test/mnt']);
  });

  it('runs commands with a clean environment and reports failures with the host name', async (t) => {
    if (!requireNodeHarness(t) || node === undefined) return;
    const env = (await node.executor.run(['env'], { env: { KUBECONFIG: '/etc/kubernetes/admin.conf' } })).stdout;
    assert.doesNotMatch(env, /^CI=|^TRACELAB_/m);
    assert.match(env, /^KUBECONFIG=\/etc\/kubernetes\/admin\.conf$/m);
    assert.equal((await node.executor.run(['cat'], { input: 'stdin reaches the command' })).stdout, 'stdin reaches the command');
    // without input the command gets no stdin at all (it must not wait on the test's)
    assert.equal((await node.executor.run(['cat'], { input: '' })).stdout, '');
    assert.equal((await node.executor.run(['cat'])).stdout, '');
    await assert.rejects(node.executor.run(['sh', '-c', 'echo broken >&2; exit 7']), (err: unknown) => {
      assert.ok(err instanceof CommandFailed);
      assert.equal(err.host, 'n1');
      assert.deepEqual(err.command, ['sh', '-c', 'echo broken >&2; exit 7']);
      assert.equal(err.result.exitCode, 7);
      assert.equal(err.message, 'n1: `sh -c echo broken >&2; exit 7` exited 7: broken');
      return true;
    });
    assert.equal((await node.executor.run(['false'], { nothrow: true })).exitCode, 1);
  });

  it('tears down to the machine as it was', async (t) => {
    if (!requireNodeHarness(t) || lab === undefined || node === undefined || hostBefore === undefined) return;
    await node.executor.run(['sh', '-c', 'sleep 600 >/dev/null 2>&1 &']);
    // what kubelet does at start: a machine-wide setting (a harmless one here)
    const maxKeys = Number(hostBefore.sysctls['kernel.keys.root_maxkeys'] ?? '1000000');
    await node.executor.run(['sysctl', '-q', '-w', `kernel.keys.root_maxkeys=${maxKeys + 1}`]);
    const namespaces = namespacesOf(lab, 'n1');
    const processes = processesOfNode(namespaces);
    assert.ok(processes.length >= 3, `holder, listener and the background sleep: ${JSON.stringify(processes)}`);
    const { bridge, id } = lab;
    const started = Date.now();
    const teardown = await lab.destroy();
    console.log(`# lab ${id} torn down in ${Date.now() - started} ms`);
    lab = undefined;

    if (teardown.lastLab) {
      assert.deepEqual(teardown.restoredSysctls, [`kernel.keys.root_maxkeys: ${maxKeys + 1} → ${maxKeys}`]);
    } else {
      t.diagnostic('another lab is alive on this machine: it restores the sysctls and mount points; the host comparison is skipped');
    }
    assert.deepEqual(processes.filter((p: FoundProcess) => isRunning(p)), []);
    assert.deepEqual(processesOfNode(namespaces), []);
    assert.equal(existsSync(labRecordFile(id)), false);
    assert.equal(existsSync(node.dir), false);
    assert.equal((await probe`ip link show dev ${bridge}`).exitCode, 1);
    if (teardown.lastLab) assert.deepEqual(await snapshotHost(), hostBefore);
  });
});

describe('two nodes on one segment', () => {
  let lab: Lab | undefined;
  after(async () => { await lab?.destroy(); });

  it('reach each other on the segment; removeNode() takes one away', async (t) => {
    if (!requireNodeHarness(t)) return;
    lab = await createLab({ purpose: 'test/testenv/nodes/network.test.ts (two nodes)' });
    const a = await lab.addNode('a');
    const b = await lab.addNode('b');
    assert.notEqual(a.address, b.address);
    b.start({
      name: 'listener',
      command: process.execPath,
      args: ['-e', `require('node:net').createServer((s) => s.end('hello from b')).listen(${LISTENER_PORT}, '${b.address}')`],
    });
    const client = `require('node:net').connect(${LISTENER_PORT}, '${b.address}').on('data', (d) => process.stdout.write(d)).on('error', () => process.exit(1))`;
    const answer = await waitFor(`b's listener, from a`, async () => {
      const result = await a.executor.run([process.execPath, '-e', client], { nothrow: true });
      return result.exitCode === 0 && result.stdout !== '' ? result.stdout : undefined;
    }, { deadlineMs: 10_000 });
    assert.equal(answer, 'hello from b');

    const bNetns = b.netns;
    await lab.removeNode('b');
    assert.equal(existsSync(bNetns), false);
    assert.equal((await a.executor.run(['ip', 'route', 'get', a.address])).exitCode, 0, 'a is untouched');
  });
});

describe('two labs at once', () => {
  const labs: Lab[] = [];
  after(async () => { for (const lab of labs) await lab.destroy(); });

  it('the first to go leaves the other\'s mounts and the machine record alone; the last puts the machine back', async (t) => {
    if (!requireNodeHarness(t)) return;
    const othersAlive = readLabRecords().length > 0;
    const hostBefore = await snapshotHost();
    const first = await createLab({ purpose: 'test/testenv/nodes/network.test.ts (first of two)' });
    labs.push(first);
    await first.addNode('a');
    const second = await createLab({ purpose: 'test/testenv/nodes/network.test.ts (second of two)' });
    labs.push(second);
    assert.notEqual(second.subnet, first.subnet);
    const b = await second.addNode('b');
    await b.executor.writeFile('/var/lib/kubelet/config.yaml', 'kind: KubeletConfiguration\n');
    const maxKeys = Number(hostBefore.sysctls['kernel.keys.root_maxkeys'] ?? '1000000');
    await b.executor.run(['sysctl', '-q', '-w', `kernel.keys.root_maxkeys=${maxKeys + 2}`]);

    const firstTeardown = await first.destroy();
    labs.shift();
    assert.equal(firstTeardown.lastLab, false);
    assert.deepEqual(firstTeardown.restoredSysctls, []);
    assert.equal(await b.executor.readFile('/var/lib/kubelet/config.yaml'), 'kind: KubeletConfiguration\n', 'b keeps its private directory');
    assert.match((await b.executor.run(['findmnt', '-n', '-o', 'TARGET', '/var/lib/kubelet'])).stdout, /^\/var\/lib\/kubelet$/m);

    const secondTeardown = await second.destroy();
    labs.shift();
    if (othersAlive) {
      t.diagnostic('another lab is alive on this machine: it restores the sysctls and mount points');
      return;
    }
    assert.equal(secondTeardown.lastLab, true);
    assert.deepEqual(secondTeardown.restoredSysctls, [`kernel.keys.root_maxkeys: ${maxKeys + 2} → ${maxKeys}`]);
    assert.deepEqual(await snapshotHost(), hostBefore);
  });
});

describe('cleanupStaleLabs()', () => {
  it('removes a lab whose test process was killed', async (t) => {
    if (!requireNodeHarness(t)) return;
    const hostBefore = await snapshotHost();
    const labModule = new URL('../../../testenv/nodes/lab.ts', import.meta.url).href;
    const crashingTest = `
      const { createLab } = await import(${JSON.stringify(labModule)});
      const lab = await createLab({ purpose: 'a test that crashes' });
      const node = await lab.addNode('orphan');
      node.start({ name: 'sleeper', command: 'sleep', args: ['600'] });
      await node.executor.run(['sh', '-c', 'sleep 600 >/dev/null 2>&1 &']);
      console.log(lab.id);
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', crashingTest], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const id = child.stdout.trim();
    const record = readLabRecords().find((r) => r.id === id);
    assert.ok(record, `the crashed test left lab ${id}'s record`);
    const orphan = record.nodes[0];
    assert.ok(orphan?.mountNamespace !== undefined);
    const namespaces = { mount: orphan.mountNamespace, network: orphan.networkNamespace };
    assert.ok(processesOfNode(namespaces).length >= 3, 'holder, sleeper and background sleep outlived the test');

    const othersAlive = readLabRecords().length > 1;
    assert.deepEqual(await cleanupStaleLabs(), [id]);

    assert.deepEqual(processesOfNode(namespaces), []);
    assert.equal(existsSync(labRecordFile(id)), false);
    if (!othersAlive) assert.deepEqual(await snapshotHost(), hostBefore);
  });
});
