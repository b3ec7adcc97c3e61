import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { exitCodes, UserError } from '../../core/errors.ts';
import { defaultKeyFileProblem, parseInventory, readInventory, type InventoryOptions } from '../../bootstrap/inventory.ts';
import { readVersions } from '../../bootstrap/versions.ts';

const exampleFile = fileURLToPath(new URL('../../bootstrap/inventory.example.yaml', import.meta.url));
const pinned = readVersions().kubernetes;
const scratch = mkdtempSync(join(tmpdir(), 'tracelab-inventory-'));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

type HostChange = Record<string, unknown>;

const baseHosts = [
  { name: 'cp1', address: '192.168.56.10', roles: ['control-plane'], ssh: { user: 'vagrant' } },
  { name: 'worker1', address: '192.168.56.11', roles: ['worker'], ssh: { user: 'vagrant', port: 2222 }, labels: { 'tracelab.dev/profile': 'worker' } },
  { name: 'worker2', address: '192.168.56.12', roles: ['worker'], ssh: { user: 'vagrant' } },
];

/** The three-host lab as YAML, with top-level fields and hosts changed (undefined removes a field). */
function inventory(change: Record<string, unknown> = {}, hostChanges: Record<number, HostChange> = {}): string {
  const hosts = baseHosts.map((host, index) => ({ ...host, ...hostChanges[index] }));
  return stringify({ kubernetesVersion: pinned, cni: 'flannel', hosts, ...change });
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('readInventory()', () => {
  it('reads the example: one control plane and two workers on 192.168.56.0/24', () => {
    const lab = readInventory(exampleFile, { keyFileProblem: () => assert.fail('the example names no key file') });
    assert.equal(lab.kubernetesVersion, pinned);
    assert.equal(lab.controlPlane.name, 'cp1');
    assert.deepEqual(lab.workers.map((host) => host.address), ['192.168.56.11', '192.168.56.12']);
    assert.equal(lab.cni, 'flannel');
    assert.deepEqual(lab.hosts[1]?.labels, { 'tracelab.dev/profile': 'worker' });
    assert.equal(lab.file, exampleFile);
  });

  it('says which file it could not read', () => {
    const missing = join(scratch, 'no-such-lab.yaml');
    assert.throws(() => readInventory(missing), (err: unknown) => err instanceof UserError && err.message.startsWith(`cannot read the inventory ${missing}: ENOENT`) && err.exitCode === exitCodes.badInput);
  });
});

describe('parseInventory()', () => {
  it('fills in the defaults (an empty value counts as absent) and accepts the version without its v', () => {
    const text = stringify({ kubernetesVersion: pinned.replace(/^v/, ''), hosts: [{ name: 'lab', address: '192.168.56.10', roles: ['control-plane', 'worker'], ssh: { user: 'root', identityFile: null } }] });
    const lab = parseInventory(text, 'lab.yaml');
    assert.deepEqual(
      { version: lab.kubernetesVersion, pods: lab.podSubnet, services: lab.serviceSubnet, cni: lab.cni, runtime: lab.runtime, context: lab.contextName },
      { version: pinned, pods: '10.244.0.0/16', services: '10.96.0.0/12', cni: 'calico', runtime: { cgroupDriver: undefined }, context: 'tracelab' },
    );
    assert.deepEqual(lab.controlPlane.ssh, { user: 'root', port: 22, identityFile: undefined });
    assert.deepEqual(lab.workers, [lab.controlPlane]);
    assert.deepEqual(lab.controlPlane.labels, {});
  });

  it('takes the bridge CNI on a single host', () => {
    const text = stringify({ cni: 'bridge', hosts: [{ name: 'lab', address: '192.168.56.10', roles: ['control-plane', 'worker'], ssh: { user: 'root' } }] });
    assert.equal(parseInventory(text, 'lab.yaml').cni, 'bridge');
  });

  it('returns a frozen lab, all the way down', () => {
    const lab = parseInventory(inventory(), 'lab.yaml');
    for (const value of [lab, lab.hosts, lab.controlPlane, lab.controlPlane.ssh, lab.controlPlane.roles, lab.workers[0]?.labels, lab.runtime]) assert.ok(Object.isFrozen(value));
  });

  it('resolves identity files against the inventory directory and ~, and checks each one', () => {
    const checked: string[] = [];
    const options: InventoryOptions = { homeDir: '/home/me', keyFileProblem: (path) => (checked.push(path), undefined) };
    const lab = parseInventory(inventory({}, { 0: { ssh: { user: 'vagrant', identityFile: 'keys/cp1' } }, 1: { ssh: { user: 'vagrant', identityFile: '~/.ssh/lab' } }, 2: { ssh: { user: 'vagrant', identityFile: '/etc/lab/key' } } }), '/srv/lab/lab.yaml', options);
    assert.deepEqual(checked, ['/srv/lab/keys/cp1', '/home/me/.ssh/lab', '/etc/lab/key']);
    assert.deepEqual(lab.hosts.map((host) => host.ssh.identityFile), checked);
  });

  it('names the line of the offending key', () => {
    const lines = ['podSubnet: 10.244.0.0/16', 'hosts:', '  - name: cp1', '    address: 192.168.56.10', '    roles: [control-plane, worker]', '    ssh: { user: vagrant, port: 0 }'];
    const refusal = (text: string) => ({ name: 'UserError', message: new RegExp(`^${escape(text)}`) });
    assert.throws(() => parseInventory([...lines, '    adress: 192.168.56.10'].join('\n'), 'lab.yaml'), refusal('lab.yaml:7: hosts[0].adress is not a known key'));
    assert.throws(() => parseInventory(lines.join('\n'), 'lab.yaml'), refusal('lab.yaml:6: hosts[0].ssh.port 0 is not a TCP port'));
    assert.throws(() => parseInventory(lines.join('\n').replace('10.244.0.0/16', '192.168.0.0/16').replace('port: 0', 'port: 22'), 'lab.yaml'), refusal('lab.yaml:1: podSubnet 192.168.0.0/16 contains hosts[0].address'));
  });

  const missingKey = join(scratch, 'missing_key');
  const keyDirectory = join(scratch, 'keys');
  mkdirSync(keyDirectory);
  const bad: [string, string, RegExp, InventoryOptions?][] = [
    ['no control plane', inventory({}, { 0: { roles: ['worker'] } }), /^lab\.yaml:\d+: hosts has no control-plane host — add control-plane to the roles of the one host/],
    ['two control planes', inventory({}, { 2: { roles: ['control-plane', 'worker'] } }), /^lab\.yaml:\d+: hosts\[2\]\.roles control-plane is also a role of hosts\[0\] — tracelab supports one control plane/],
    ['no worker', stringify({ hosts: [{ name: 'cp1', address: '192.168.56.10', roles: ['control-plane'], ssh: { user: 'vagrant' } }] }), /hosts has no worker — .*roles: \[control-plane, worker\]/],
    ['a role that does not exist', inventory({}, { 1: { roles: ['master'] } }), /hosts\[1\]\.roles\[0\] 'master' is not supported — use one of control-plane, worker$/],
    ['no roles', inventory({}, { 1: { roles: undefined } }), /hosts\[1\]\.roles must list the host's roles — e\.g\. roles: \[worker\]/],
    ['duplicate host names', inventory({}, { 2: { name: 'worker1' } }), /hosts\[2\]\.name 'worker1' is already hosts\[1\]\.name — give each host its own name$/],
    ['duplicate addresses', inventory({}, { 2: { address: '192.168.56.11' } }), /hosts\[2\]\.address 192\.168\.56\.11 is already the address of hosts\[1\] \(worker1\) — give each host its own address$/],
    ['an unknown top-level key', inventory({ podSubnets: '10.244.0.0/16' }), /^lab\.yaml:\d+: podSubnets is not a known key at the top level — did you mean podSubnet\?$/],
    ['an unknown key in a host', inventory({}, { 1: { adress: '192.168.56.11' } }), /hosts\[1\]\.adress is not a known key in hosts\[1\] — did you mean address\?$/],
    ['an unknown key under ssh', inventory({}, { 0: { ssh: { user: 'vagrant', identity_file: '/k' } } }), /hosts\[0\]\.ssh\.identity_file is not a known key in hosts\[0\]\.ssh — did you mean identityFile\?$/],
    ['an unknown key like no other', inventory({ colour: 'blue' }), /colour is not a known key at the top level — use one of kubernetesVersion, podSubnet, .*, hosts$/],
    ['a pod subnet that is not a CIDR', inventory({ podSubnet: '10.244.0.0' }), /^lab\.yaml:\d+: podSubnet '10\.244\.0\.0' is not an IPv4 CIDR/],
    ['pod and Service subnets that overlap', inventory({ podSubnet: '10.96.0.0/16' }), /podSubnet 10\.96\.0\.0\/16 overlaps serviceSubnet 10\.96\.0\.0\/12 — pick ranges that do not overlap/],
    ['a pod subnet over the Vagrant hosts (the classic)', inventory({ podSubnet: '192.168.0.0/16' }), /^lab\.yaml:\d+: podSubnet 192\.168\.0\.0\/16 contains hosts\[0\]\.address 192\.168\.56\.10 \(host cp1\) — set podSubnet to a range outside the hosts' network, e\.g\. 10\.244\.0\.0\/16$/],
    ['a Service subnet over a host', inventory({}, { 2: { address: '10.100.0.12' } }), /serviceSubnet 10\.96\.0\.0\/12 contains hosts\[2\]\.address 10\.100\.0\.12 \(host worker2\) — .* e\.g\. 10\.112\.0\.0\/16$/],
    ['an unsupported Kubernetes version', inventory({ kubernetesVersion: 'v1.36.0' }), new RegExp(`kubernetesVersion v1\\.36\\.0 is not supported — tracelab installs ${escape(pinned)}: set kubernetesVersion: ${escape(pinned)}`)],
    ['a Kubernetes version YAML read as a number', inventory({ kubernetesVersion: 1.37 }), /kubernetesVersion 1\.37 is not supported/],
    ['an unsupported CNI', inventory({ cni: 'cilium' }), /^lab\.yaml:\d+: cni 'cilium' is not supported — use one of calico, flannel, bridge$/],
    ['the bridge CNI across hosts', inventory({ cni: 'bridge' }), /^lab\.yaml:\d+: cni bridge only connects pods on one host, and this lab has 3 — use calico or flannel$/],
    ['an unknown cgroup driver', inventory({ runtime: { cgroupDriver: 'systemd.slice' } }), /runtime\.cgroupDriver 'systemd\.slice' is not supported — use one of systemd, cgroupfs$/],
    ['an invalid address', inventory({}, { 1: { address: '192.168.56.300' } }), /^lab\.yaml:\d+: hosts\[1\]\.address '192\.168\.56\.300' is not an IPv4 address — /],
    ['a host name for an address', inventory({}, { 1: { address: 'worker1.lab' } }), /hosts\[1\]\.address 'worker1\.lab' is not an IPv4 address/],
    ['an invalid host name', inventory({}, { 1: { name: 'Worker_1' } }), /hosts\[1\]\.name 'Worker_1' is not a valid node name/],
    ['a port out of range', inventory({}, { 1: { ssh: { user: 'vagrant', port: 70000 } } }), /^lab\.yaml:\d+: hosts\[1\]\.ssh\.port 70000 is not a TCP port — use a whole number from 1 to 65535/],
    ['a port that is not a number', inventory({}, { 1: { ssh: { user: 'vagrant', port: 'ssh' } } }), /hosts\[1\]\.ssh\.port 'ssh' is not a TCP port/],
    ['no SSH user', inventory({}, { 1: { ssh: { port: 22 } } }), /hosts\[1\]\.ssh\.user is missing — add it, e\.g\. user: vagrant$/],
    ['no ssh section', inventory({}, { 1: { ssh: undefined } }), /hosts\[1\]\.ssh is missing — add ssh: \{ user: <login user> \}/],
    ['a key file that does not exist', inventory({}, { 1: { ssh: { user: 'vagrant', identityFile: missingKey } } }), new RegExp(`hosts\\[1\\]\\.ssh\\.identityFile ${escape(missingKey)} does not exist — fix the path, or remove identityFile to let ssh-agent`), { keyFileProblem: defaultKeyFileProblem }],
    ['a key file that is a directory', inventory({}, { 1: { ssh: { user: 'vagrant', identityFile: keyDirectory } } }), /hosts\[1\]\.ssh\.identityFile .*keys is not a regular file — fix the path/, { keyFileProblem: defaultKeyFileProblem }],
    ['a key file that is not readable', inventory({}, { 0: { ssh: { user: 'vagrant', identityFile: '/k' } } }), /hosts\[0\]\.ssh\.identityFile \/k is not readable by this user — /, { keyFileProblem: () => 'is not readable by this user' }],
    ['a label value that is not a string', inventory({}, { 1: { labels: { 'tracelab.dev/gpu': false } } }), /hosts\[1\]\.labels\['tracelab\.dev\/gpu'\] false is not a valid label value — .*quoted/],
    ['a bad label key', inventory({}, { 1: { labels: { 'profile!': 'worker' } } }), /hosts\[1\]\.labels\['profile!'\] is not a valid label key/],
    ['no hosts', stringify({ cni: 'calico' }), /^lab\.yaml:?\d*: hosts is missing — list the lab's machines/],
    ['an empty host list', inventory({ hosts: [] }), /^lab\.yaml:\d+: hosts must be a non-empty list of hosts/],
    ['a host that is not a mapping', inventory({ hosts: ['cp1'] }), /^lab\.yaml:\d+: hosts\[0\] must be a mapping/],
    ['an empty file', '', /^lab\.yaml: the inventory is empty — describe the lab's hosts in it, starting from bootstrap\/inventory\.example\.yaml$/],
    ['a file of comments only', '# hosts to come\n', /^lab\.yaml: the inventory is empty/],
    ['a list instead of a mapping', '- cp1\n- worker1\n', /^lab\.yaml:1: the inventory must be a mapping \(kubernetesVersion:, hosts:, …\), not a list/],
    ['a scalar instead of a mapping', 'cp1\n', /^lab\.yaml:1: the inventory must be a mapping .*, not a string/],
    ['a YAML syntax error', 'cni: flannel\nhosts:\n  - name: [cp1\n    address: 192.168.56.10\n', /^lab\.yaml:\d+: not valid YAML: .+ — fix the syntax on line \d+$/],
    ['a key given twice', 'cni: flannel\ncni: calico\n', /^lab\.yaml:2: not valid YAML: Map keys must be unique — fix the syntax on line 2$/],
  ];
  for (const [what, text, message, options] of bad) {
    it(`refuses ${what} in one line naming the file and the fix`, () => {
      assert.throws(
        () => parseInventory(text, 'lab.yaml', options),
        (err: unknown) => {
          assert.ok(err instanceof UserError, `not a UserError: ${String(err)}`);
          assert.match(err.message, message);
          assert.ok(!err.message.includes('\n'), `more than one line: ${err.message}`);
          assert.equal(err.exitCode, exitCodes.badInput);
          return true;
        },
      );
    });
  }
});

describe('defaultKeyFileProblem()', () => {
  it('accepts a readable regular file and says what is wrong with anything else', () => {
    const key = join(scratch, 'id_lab');
    writeFileSync(key, 'not really a key\n', { mode: 0o600 });
    assert.equal(defaultKeyFileProblem(key), undefined);
    assert.equal(defaultKeyFileProblem(join(scratch, 'absent')), 'does not exist');
    assert.equal(defaultKeyFileProblem(join(key, 'below-a-file')), 'does not exist');
    assert.equal(defaultKeyFileProblem(scratch), 'is not a regular file');
  });
});
