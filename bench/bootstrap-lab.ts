// The three-node half of `npm run bench:bootstrap`: wall time from the artifacts directory on this
// machine to three Ready nodes with CoreDNS answering, over SSH — `tracelab bootstrap --inventory`
// against the bare sequence (the same configs tracelab wrote, copied and run by plain ssh and
// shell, hosts in parallel where a person would run them in parallel), then tracelab's no-change re-run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { offlineFlannelImage, renderFlannel } from '../bootstrap/cni/flannel.ts';
import { nodeBaseArchive } from '../bootstrap/artifacts/build.ts';
import { kubeadmConfigYaml } from '../bootstrap/kubeadm-config.ts';
import { readVersions } from '../bootstrap/versions.ts';
import type { Lab } from '../testenv/nodes/lab.ts';
import type { TestNode } from '../testenv/nodes/node.ts';
import { startSshd, type NodeSshd } from '../testenv/nodes/sshd.ts';

const cli = fileURLToPath(new URL('../cli/tracelab.ts', import.meta.url));
const names = ['cp', 'w1', 'w2'] as const;

export interface LabSamples {
  readonly tracelab: number[];
  readonly bare: number[];
  readonly noChangeRerun: number[];
}

interface LabNodes {
  readonly nodes: TestNode[];
  readonly sshds: NodeSshd[];
}

async function addNodes(lab: Lab, prefix: string): Promise<LabNodes> {
  const nodes: TestNode[] = [];
  const sshds: NodeSshd[] = [];
  for (const name of names) {
    const node = await lab.addNode(`${prefix}${name}`);
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
    nodes.push(node);
    sshds.push(await startSshd(lab, node));
  }
  return { nodes, sshds };
}

function ssh(sshd: NodeSshd, knownHosts: string): string {
  return `ssh -i ${sshd.identityFile} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${knownHosts} -o LogLevel=ERROR root@${sshd.address}`;
}

/** What a person types on each host once the artifacts are there: the configs tracelab wrote, nothing else (the demo's base image is not for the hosts). */
function hostScript(node: TestNode): string {
  const a = '/var/lib/tracelab/artifacts';
  return `set -e
for b in containerd containerd-shim-runc-v2 ctr crictl kubelet kubeadm kubectl runc; do install -D -m 0755 ${a}/bin/$b /usr/local/bin/$b; done
for p in bridge host-local loopback portmap; do install -D -m 0755 ${a}/cni/$p /opt/cni/bin/$p; done
mkdir -p /etc/containerd /etc/tracelab /var/log/tracelab /var/lib/tracelab/run
cp /var/lib/tracelab/bench/config.toml /etc/containerd/config.toml
sysctl -q -w net.ipv4.ip_forward=1
setsid sh -c 'while :; do /usr/local/bin/containerd; sleep 2; done >>/var/log/tracelab/containerd.log 2>&1' </dev/null >/dev/null 2>&1 &
until ctr version >/dev/null 2>&1; do sleep 0.5; done
for i in ${a}/images/*.tar; do [ "$i" = ${a}/${nodeBaseArchive} ] || ctr --namespace k8s.io images import "$i" >/dev/null; done
root=${node.cgroupRoot.slice(1)}; for h in /sys/fs/cgroup/*/; do [ -e "$h/cgroup.procs" ] || continue; mkdir -p "$h$root"; if [ -e "$h/cpuset.cpus" ]; then [ -n "$(cat $h$root/cpuset.cpus)" ] || cat $h/cpuset.cpus >$h$root/cpuset.cpus; [ -n "$(cat $h$root/cpuset.mems)" ] || cat $h/cpuset.mems >$h$root/cpuset.mems; fi; done
setsid sh -c 'while :; do [ -f /var/lib/kubelet/config.yaml ] && { . /var/lib/kubelet/kubeadm-flags.env; /usr/local/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml $KUBELET_KUBEADM_ARGS; }; sleep 2; done >>/var/log/tracelab/kubelet.log 2>&1' </dev/null >/dev/null 2>&1 &
`;
}

/** The bare sequence as one bash script run on this machine: copy, prepare in parallel, init, Flannel, join in parallel, wait. */
function bareScript(lab: LabNodes, artifacts: string, configs: string, knownHosts: string): string {
  const [cp, ...workers] = lab.sshds;
  if (cp === undefined) throw new Error('no control plane');
  // Single quotes: the command is expanded on the host, except the token, spliced in from here.
  const on = (sshd: NodeSshd, command: string): string => `${ssh(sshd, knownHosts)} '${command.replaceAll("'", `'\\''`).replaceAll('@LOCAL_TOKEN@', `'"$token"'`)}'`;
  const kubectl = 'KUBECONFIG=/etc/kubernetes/admin.conf kubectl';
  return `set -e
${lab.sshds.map((s, i) => `( tar -C ${artifacts} --exclude=./${nodeBaseArchive} -cf - . | ${on(s, 'mkdir -p /var/lib/tracelab/artifacts && tar -C /var/lib/tracelab/artifacts -xf -')} && tar -C ${configs}/${String(i)} -cf - . | ${on(s, 'mkdir -p /var/lib/tracelab/bench && tar -C /var/lib/tracelab/bench -xf -')} && ${on(s, 'sh /var/lib/tracelab/bench/host.sh')} ) & p${String(i)}=$!`).join('\n')}
${lab.sshds.map((_, i) => `wait $p${String(i)}`).join('\n')}
${on(cp, 'kubeadm init --config /var/lib/tracelab/bench/kubeadm.yaml --skip-token-print >/dev/null 2>&1')}
${on(cp, `${kubectl} apply -f /var/lib/tracelab/bench/flannel.yaml >/dev/null`)}
token=$(${on(cp, 'kubeadm token create --ttl 15m')})
${workers.map((s, i) => `${on(s, 'sed "s/@TOKEN@/@LOCAL_TOKEN@/" /var/lib/tracelab/bench/join.yaml >/etc/tracelab/join.yaml && kubeadm join --config /etc/tracelab/join.yaml >/dev/null 2>&1')} & j${String(i)}=$!`).join('\n')}
${workers.map((_, i) => `wait $j${String(i)}`).join('\n')}
${on(cp, `until [ "$(${kubectl} get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}' | grep -c True)" = ${String(lab.sshds.length)} ]; do sleep 0.5; done`)}
${on(cp, `until [ "$(${kubectl} -n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}')" = 2 ]; do sleep 0.5; done`)}
`;
}

function inventory(lab: LabNodes): string {
  return stringify({
    cni: 'flannel',
    contextName: 'bench-lab',
    hosts: lab.sshds.map((sshd, i) => ({
      name: sshd.host,
      address: sshd.address,
      roles: [i === 0 ? 'control-plane' : 'worker'],
      ssh: { user: sshd.user, port: sshd.port, identityFile: sshd.identityFile },
      kubeletCgroupRoot: lab.nodes[i]?.cgroupRoot,
    })),
  });
}

/** One round: tracelab on three fresh nodes (then its no-change re-run), the bare sequence on three others. */
export async function benchLabRound(lab: Lab, work: string, artifacts: string, round: number, samples: LabSamples): Promise<void> {
  const dir = join(work, `lab-${String(round)}`);
  mkdirSync(dir, { recursive: true });
  const sshConfig = join(dir, 'ssh_config');
  writeFileSync(sshConfig, `Host *\n  UserKnownHostsFile ${join(dir, 'known_hosts')}\n`);

  const ours = await addNodes(lab, `t${String(round)}`);
  writeFileSync(join(dir, 'lab.yaml'), inventory(ours));
  const args = [cli, '--kubeconfig', join(dir, 'kubeconfig'), 'bootstrap', '--inventory', join(dir, 'lab.yaml'), '--ssh-config', sshConfig, '--accept-new-host-keys', '--artifacts', artifacts, '--no-layers'];
  let started = performance.now();
  const first = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  if (first.status !== 0) throw new Error(`tracelab bootstrap --inventory failed: ${first.stderr}`);
  samples.tracelab.push(performance.now() - started);
  // Each step's line carries its time: where tracelab's share goes.
  writeFileSync(join(dir, 'tracelab-first-run.out'), first.stderr);
  started = performance.now();
  const again = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  if (again.status !== 0) throw new Error(`the no-change re-run failed: ${again.stderr}`);
  samples.noChangeRerun.push(performance.now() - started);
  writeFileSync(join(dir, 'tracelab-rerun.out'), again.stderr);

  // The configs tracelab wrote, with this lab's names and addresses swapped for the bare lab's.
  const bare = await addNodes(lab, `b${String(round)}`);
  const swap = (text: string): string => {
    let result = text;
    ours.nodes.forEach((node, i) => {
      const other = bare.nodes[i];
      if (other === undefined) return;
      result = result.replaceAll(node.address, other.address).replaceAll(node.cgroupRoot, other.cgroupRoot).replaceAll(node.name, other.name);
    });
    return result;
  };
  const [cpNode] = ours.nodes;
  if (cpNode === undefined) throw new Error('no control plane');
  const kubeadm = swap((await cpNode.executor.readFile('/etc/tracelab/kubeadm.yaml')) ?? '');
  // Flannel's manifest as a person would download it: the same objects, as plain YAML.
  const flannel = renderFlannel({ podSubnet: '10.244.0.0/16', image: offlineFlannelImage(readVersions().flannel), interface: { nodeAddress: true } })
    .map((object) => stringify(object))
    .join('---\n');
  for (const [i, node] of ours.nodes.entries()) {
    const configs = join(dir, 'configs', String(i));
    mkdirSync(configs, { recursive: true });
    const target = bare.nodes[i];
    if (target === undefined) continue;
    writeFileSync(join(configs, 'config.toml'), (await node.executor.readFile('/etc/containerd/config.toml')) ?? '');
    writeFileSync(join(configs, 'host.sh'), hostScript(target));
    writeFileSync(join(configs, 'kubeadm.yaml'), kubeadm);
    writeFileSync(join(configs, 'flannel.yaml'), flannel);
    const joinConfig = kubeadmConfigYaml([
      {
        apiVersion: 'kubeadm.k8s.io/v1beta4',
        kind: 'JoinConfiguration',
        discovery: { bootstrapToken: { apiServerEndpoint: `${bare.nodes[0]?.address ?? ''}:6443`, token: '@TOKEN@', unsafeSkipCAVerification: true } },
        nodeRegistration: { name: target.name, criSocket: 'unix:///run/containerd/containerd.sock', kubeletExtraArgs: [{ name: 'node-ip', value: target.address }, { name: 'cgroup-root', value: target.cgroupRoot }], ignorePreflightErrors: ['SystemVerification'] },
      },
    ]);
    writeFileSync(join(configs, 'join.yaml'), joinConfig);
  }
  for (const node of ours.nodes) await lab.removeNode(node.name);

  started = performance.now();
  const run = spawnSync('bash', ['-c', bareScript(bare, artifacts, join(dir, 'configs'), join(dir, 'known_hosts-bare'))], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the bare sequence failed: ${run.stderr}`);
  samples.bare.push(performance.now() - started);
  for (const node of bare.nodes) await lab.removeNode(node.name);
}
