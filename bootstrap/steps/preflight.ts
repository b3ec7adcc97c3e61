import { exitCodes, UserError } from '../../core/errors.ts';
import { archOf, onlineEndpoints, packageFamily } from '../artifacts/online.ts';
import { readFiles } from '../host-access.ts';
import { gatherHostFacts } from '../host-facts.ts';
import { contains, networkOfAddress, overlaps, parseCidr } from '../options.ts';
import { failures, judgeHost, standaloneRequirements, workerRequirements } from '../preflight.ts';
import { installedRecord, installs } from './install-binaries.ts';
import type { HostFacts } from '../host-facts.ts';
import type { BootstrapContext, BootstrapStep, ResolvedNode } from './step.ts';

/**
 * The node's name and address: given, or the host's own name and its only global address. With
 * several, guessing is how labs break (a Vagrant VM's default route is its NAT address, the one
 * other nodes cannot reach), so tracelab asks for --node-ip.
 */
export function resolveNode(facts: HostFacts, nodeName: string | undefined, nodeIP: string | undefined): ResolvedNode {
  const name = (nodeName ?? facts.hostname).toLowerCase();
  const addresses = facts.addresses.map((address) => address.split('/')[0] ?? '');
  if (nodeIP !== undefined) {
    if (!addresses.includes(nodeIP)) throw new UserError(`--node-ip ${nodeIP} is not an address of this host (it has ${addresses.join(', ') || 'none'}) — pass one of those`);
    return { name, ip: nodeIP };
  }
  if (addresses.length === 1 && addresses[0] !== undefined) return { name, ip: addresses[0] };
  if (addresses.length === 0) throw new UserError(`${name} has no global IPv4 address for the node — configure one, or pass --node-ip`);
  throw new UserError(`${name} has several addresses (${addresses.join(', ')}) — pass --node-ip with the one other nodes and you reach it on (on Vagrant: the private network, not the NAT one)`);
}

/** Reads the host once and judges it: every failure at once, each with its fix; warnings printed. */
export const preflight: BootstrapStep = {
  title: 'Preflight checks',
  isDone: () => Promise.resolve(false),
  async run(ctx) {
    const facts = await gatherHostFacts({ run: (command) => ctx.host.probe(command) });
    ctx.facts = facts;
    // The lab's own bridges (cni0 on the pod subnet) are not the host's addresses.
    const podNetworks = [parseCidr(ctx.lab.podSubnet, '--pod-subnet'), parseCidr(ctx.lab.serviceSubnet, '--service-subnet')];
    const hostAddresses = facts.addresses.filter((address) => !podNetworks.some((network) => contains(network, address.split('/')[0] ?? '')));
    ctx.node = resolveNode({ ...facts, addresses: hostAddresses }, ctx.lab.nodeName, ctx.lab.nodeIP);
    const live = await readFiles(ctx.host, ['/etc/kubernetes/kubelet.conf', installedRecord]);
    const alreadyInitialized = live.get('/etc/kubernetes/kubelet.conf') !== undefined;
    const findings = judgeHost(facts, { ...(ctx.lab.role === 'worker' ? workerRequirements : standaloneRequirements), alreadyInitialized });
    for (const finding of findings.filter((f) => f.severity === 'warn')) ctx.output.warn(`${ctx.host.name}: ${finding.check}: ${finding.message}`);
    for (const [flag, subnet] of [['--pod-subnet', ctx.lab.podSubnet], ['--service-subnet', ctx.lab.serviceSubnet]] as const) {
      const cidr = parseCidr(subnet, flag);
      const clash = hostAddresses.find((address) => overlaps(cidr, networkOfAddress(address)));
      if (clash !== undefined) findings.push({ check: 'subnets', severity: 'fail', message: `${flag} ${subnet} overlaps the host's network ${clash} (the Vagrant NAT classic) — pass a ${flag} outside it` });
    }
    if (ctx.lab.cgroupDriver === 'systemd' && !(facts.systemd && facts.cgroupVersion === 2)) {
      findings.push({ check: 'cgroup driver', severity: 'fail', message: 'runtime.cgroupDriver systemd needs a cgroup v2 host run by systemd — use cgroupfs, or leave it out to detect it' });
    }
    const failed = failures(findings);
    if (failed.length > 0) {
      throw new UserError(`${ctx.host.name} is not ready for Kubernetes: ${failed.map((f) => `${f.check}: ${f.message}`).join('; ')}`);
    }
    await refuseForeignRuntime(ctx, live.get(installedRecord));
    if (ctx.lab.source.kind === 'online') await checkOnlineSources(ctx, facts);
  },
};

/**
 * A containerd, runc or kubelet tracelab did not install (Docker's containerd.io, a distribution
 * package, a hand install) would be overwritten now and deleted by reset: refused, naming what.
 */
async function refuseForeignRuntime(ctx: BootstrapContext, record: string | undefined): Promise<void> {
  const ours = new Set(Object.keys(JSON.parse(record ?? '{}') as Record<string, string>));
  const paths = [...new Set([...installs.map(({ to }) => to), '/usr/local/bin/runc'])];
  const present = await ctx.host.probe(['sh', '-c', 'for p in "$@"; do [ -e "$p" ] && echo "$p"; done; [ -S /run/containerd/containerd.sock ] && echo /run/containerd/containerd.sock; true', 'existing', ...paths]);
  const foreign = present.stdout.split('\n').filter((path) => path !== '' && !ours.has(path) && !(path.endsWith('.sock') && ours.has('/usr/local/bin/containerd')));
  if (foreign.length === 0) return;
  throw new UserError(`${ctx.host.name} already has ${foreign.slice(0, 4).join(', ')}${foreign.length > 4 ? ` and ${String(foreign.length - 4)} more` : ''}, which tracelab did not install — remove that container runtime or Kubernetes install first (tracelab installs and later removes its own), or use a clean host`);
}

/**
 * The online install needs a package family and architecture it has pins for, and the package
 * repository, the release downloads and the image registry within reach — checked before the host
 * changes. A dry run only warns, and goes on to print the commands.
 */
async function checkOnlineSources(ctx: BootstrapContext, facts: HostFacts): Promise<void> {
  const family = packageFamily(facts.os);
  archOf(facts.machine);
  const airGapped = 'or install air-gapped: `tracelab artifacts build --out DIR` on a machine with access, then `tracelab bootstrap --artifacts DIR`';
  if ((await ctx.host.probe(['sh', '-c', 'command -v curl'])).exitCode !== 0) {
    throw new UserError(`${ctx.host.name} has no curl, which the online install downloads with — install it (${family === 'deb' ? 'apt-get install curl' : 'dnf install curl'}), ${airGapped}`);
  }
  const unreachable: string[] = [];
  for (const url of onlineEndpoints(ctx.lab.kubernetesVersion, family)) {
    // Any HTTP answer will do (the registry answers 401); 000 means no connection.
    const answer = await ctx.host.probe(['curl', '--head', '--silent', '--show-error', '--max-time', '10', '--output', '/dev/null', '--write-out', '%{http_code}', url]);
    if (answer.stdout.trim() === '000' || answer.stdout.trim() === '') unreachable.push(`${new URL(url).host} (${answer.stderr.trim().replace(/^curl: \(\d+\) /, '') || 'no answer'})`);
  }
  if (unreachable.length === 0) return;
  const message = `${ctx.host.name} cannot reach ${unreachable.join(', ')}, which the online install needs — give it internet access (or a proxy: https_proxy), ${airGapped}`;
  if (ctx.dryRun) {
    ctx.output.warn(`${message} (a real run would stop here)`);
    return;
  }
  throw new UserError(message, { exitCode: exitCodes.unreachable });
}
