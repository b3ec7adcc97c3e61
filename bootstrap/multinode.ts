import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GlobalOptions } from '../core/context.ts';
import { UserError, errorMessage, exitCodes } from '../core/errors.ts';
import { parseDuration } from '../core/kube/duration.ts';
import type { Layer } from '../core/layer.ts';
import { sshExecutor, type SshExecutor } from './executors/ssh.ts';
import { hostAccess } from './host-access.ts';
import { readInventory, type Lab, type LabHost } from './inventory.ts';
import { installSettings, type BootstrapFlags } from './options.ts';
import { resetHost } from './reset.ts';
import { runBootstrapSteps } from './run.ts';
import { checkLayerInputs, installLayers, monitoringOptionsFor, removeLabContext, type LayerFlags } from './standalone.ts';
import { cni } from './steps/cni.ts';
import { containerRuntime } from './steps/container-runtime.ts';
import { hostPrep } from './steps/host-prep.ts';
import { artifactsManifest, copyArtifacts, installBinaries } from './steps/install-binaries.ts';
import { adminConf, kubeadmInit } from './steps/kubeadm-init.ts';
import { kubeadmJoin } from './steps/kubeadm-join.ts';
import { nodeLabels } from './steps/node-labels.ts';
import { podNetwork } from './steps/pod-network.ts';
import { preflight } from './steps/preflight.ts';
import type { BootstrapContext, BootstrapStep, JoinTicket, NodePlan } from './steps/step.ts';
import { userKubeconfig } from './steps/user-kubeconfig.ts';
import { waitReady } from './steps/wait-ready.ts';

/** Where a remote host keeps its copy of the artifacts directory (removed by `tracelab reset`). */
export const hostArtifactsDir = '/var/lib/tracelab/artifacts';

/** The phases of a multi-node lab: every host, then the control plane, then the workers, then every node. */
export const labPhases = {
  everyHost: [preflight, hostPrep, copyArtifacts, installBinaries, containerRuntime],
  controlPlane: (lab: Lab): BootstrapStep[] => [kubeadmInit, userKubeconfig, lab.cni === 'bridge' ? cni : podNetwork],
  workers: [kubeadmJoin],
  everyNode: [nodeLabels, waitReady],
} as const;

export interface LabFlags extends BootstrapFlags, SshFlags {
  readonly inventory: string;
}

/** Flags that describe one host; with --inventory the file says these. */
const singleHostFlags: readonly (readonly [keyof BootstrapFlags, string, string])[] = [
  ['nodeName', '--node-name', 'hosts[].name'],
  ['nodeIp', '--node-ip', 'hosts[].address'],
  ['podSubnet', '--pod-subnet', 'podSubnet'],
  ['serviceSubnet', '--service-subnet', 'serviceSubnet'],
  ['nodeLabels', '--node-labels', 'hosts[].labels'],
  ['contextName', '--context-name', 'contextName'],
  ['kubeletCgroupRoot', '--kubelet-cgroup-root', 'hosts[].kubeletCgroupRoot'],
];

/** What each host becomes, from the inventory: pure. */
export function planLab(lab: Lab, options: { artifacts: string | undefined; userKubeconfig: string; timeoutMs: number }): Map<LabHost, NodePlan> {
  const single = lab.hosts.length === 1;
  const plans = new Map<LabHost, NodePlan>();
  for (const host of lab.hosts) {
    const isControlPlane = host === lab.controlPlane;
    plans.set(host, {
      role: single ? 'standalone' : isControlPlane ? 'control-plane' : 'worker',
      cni: lab.cni === 'bridge' ? 'bridge' : 'flannel',
      controlPlaneRunsPods: single || lab.controlPlane.roles.includes('worker'),
      cgroupDriver: lab.runtime.cgroupDriver,
      controlPlaneAddress: lab.controlPlane.address,
      nodeName: host.name,
      nodeIP: host.address,
      podSubnet: lab.podSubnet,
      serviceSubnet: lab.serviceSubnet,
      kubernetesVersion: lab.kubernetesVersion,
      ...installSettings(options.artifacts, hostArtifactsDir),
      kubeletCgroupRoot: host.kubeletCgroupRoot,
      nodeLabels: host.labels,
      userKubeconfig: options.userKubeconfig,
      contextName: lab.contextName,
      timeoutMs: options.timeoutMs,
    });
  }
  return plans;
}

/** Everything checked before any host is contacted: the inventory, the flags, the artifacts directory. */
async function prepare(flags: LabFlags, optionSource: (name: string) => string | undefined): Promise<Lab> {
  for (const [key, flag, field] of singleHostFlags) {
    if (optionSource(key) === 'cli') throw new UserError(`${flag} describes a single host: with --inventory, set ${field} in ${flags.inventory} instead`);
  }
  const lab = readInventory(flags.inventory);
  if (lab.cni === 'calico') {
    throw new UserError(`${flags.inventory}: cni: calico is not built yet (its node image cannot be built where tracelab is tested) — set cni: flannel`, { exitCode: exitCodes.notBuilt });
  }
  if (flags.artifacts !== undefined) await artifactsManifest(flags.artifacts);
  return lab;
}

interface Connected {
  readonly contexts: Map<LabHost, BootstrapContext>;
  readonly executors: readonly SshExecutor[];
  close(): Promise<void>;
}

export interface SshFlags {
  readonly acceptNewHostKeys: boolean;
  readonly sshConfig?: string | undefined;
}

/** One multiplexed OpenSSH connection to an inventory host. */
export function labHostExecutor(host: LabHost, flags: SshFlags): SshExecutor {
  const controlDir = sshControlDir();
  return sshExecutor(
    { host: host.name, address: host.address, user: host.ssh.user, port: host.ssh.port, ...(host.ssh.identityFile === undefined ? {} : { identityFile: host.ssh.identityFile }) },
    { acceptNewHostKeys: flags.acceptNewHostKeys, controlDir, ...(flags.sshConfig === undefined ? {} : { sshConfigFile: flags.sshConfig }) },
  );
}

/**
 * Where the multiplexed connections' sockets live: the user's own 0700 directory (a socket another
 * user could plant would receive every command). Short: a unix socket path has about 100 characters.
 */
export function sshControlDir(): string {
  const dir = join(homedir(), '.cache', 'tracelab', 'ssh');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = statSync(dir);
  if (stat.uid !== process.getuid?.() || (stat.mode & 0o077) !== 0) throw new UserError(`${dir} must be yours and private (mode 0700) — chmod 700 ${dir}, or remove it`);
  return dir;
}

function connect(globals: GlobalOptions, lab: Lab, plans: Map<LabHost, NodePlan> | undefined, flags: SshFlags): Connected {
  const executors: SshExecutor[] = [];
  const contexts = new Map<LabHost, BootstrapContext>();
  for (const host of lab.hosts) {
    const executor = labHostExecutor(host, flags);
    executors.push(executor);
    const plan = plans?.get(host);
    if (plan === undefined) continue;
    contexts.set(host, { host: hostAccess(executor, { dryRun: globals.dryRun, output: globals.output }), lab: plan, output: globals.output, dryRun: globals.dryRun, facts: undefined, node: undefined, kube: undefined, join: undefined });
  }
  return {
    contexts,
    executors,
    async close() {
      await Promise.allSettled([...contexts.values()].map((ctx) => ctx.kube?.close() ?? Promise.resolve()));
      await Promise.allSettled(executors.map((executor) => executor.close()));
    },
  };
}

/** Runs the same steps on several hosts at once; every host finishes its current step, then one line names each failure. */
async function onEach(contexts: readonly BootstrapContext[], steps: readonly BootstrapStep[]): Promise<void> {
  const results = await Promise.allSettled(contexts.map((ctx) => runBootstrapSteps(steps, ctx)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  const [first] = failures;
  if (failures.length === 1) throw first;
  if (failures.length > 1) {
    throw new UserError(failures.map(errorMessage).join('; '), { exitCode: first instanceof UserError ? first.exitCode : exitCodes.failed });
  }
}

/** A fresh 15-minute bootstrap token and the CA's key hash, from the control plane; in memory only. */
async function makeJoinTicket(controlPlane: BootstrapContext, address: string): Promise<JoinTicket | undefined> {
  const token = (await controlPlane.host.create(['kubeadm', 'token', 'create', '--ttl', '15m', '--description', 'tracelab bootstrap: worker join', '--kubeconfig', adminConf]))?.trim();
  if (token === undefined) return undefined;
  if (!/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(token)) throw new Error(`${controlPlane.host.name}: kubeadm token create printed no token`);
  const ca = await controlPlane.host.read('/etc/kubernetes/pki/ca.crt');
  if (ca === undefined) throw new Error(`${controlPlane.host.name} has no /etc/kubernetes/pki/ca.crt: kubeadm init did not finish`);
  const spki = new X509Certificate(ca).publicKey.export({ type: 'spki', format: 'der' });
  return { apiServerEndpoint: `${address}:6443`, token, caCertHash: `sha256:${createHash('sha256').update(spki).digest('hex')}` };
}

/**
 * `tracelab bootstrap --inventory FILE`: every host over SSH — prepared in parallel, the control
 * plane initialised, the workers joined in parallel with a fresh short-lived token, the nodes
 * labelled and Ready — then the layers.
 */
export async function bootstrapLab(globals: GlobalOptions, flags: LabFlags, optionSource: (name: string) => string | undefined, userKubeconfigFile: string, layers: readonly Layer<unknown>[], layerFlags: LayerFlags): Promise<void> {
  const lab = await prepare(flags, optionSource);
  const timeoutMs = parseDuration(flags.timeout, '--timeout');
  const plans = planLab(lab, { artifacts: flags.artifacts, userKubeconfig: userKubeconfigFile, timeoutMs });
  const monitoringOptions = monitoringOptionsFor(installSettings(flags.artifacts, undefined).source, layerFlags, layers);
  await checkLayerInputs(globals, installSettings(flags.artifacts, undefined).source, layers);
  const connected = connect(globals, lab, plans, flags);
  const contextOf = (host: LabHost): BootstrapContext => {
    const ctx = connected.contexts.get(host);
    if (ctx === undefined) throw new Error(`no context for ${host.name}`);
    return ctx;
  };
  try {
    const all = lab.hosts.map(contextOf);
    const controlPlane = contextOf(lab.controlPlane);
    const workers = lab.hosts.filter((host) => host !== lab.controlPlane).map(contextOf);
    globals.output.info(`lab ${lab.file}: control plane ${lab.controlPlane.name}, ${String(workers.length)} worker${workers.length === 1 ? '' : 's'}, ${lab.cni}`);
    await onEach(all, labPhases.everyHost);
    await runBootstrapSteps(labPhases.controlPlane(lab), controlPlane);
    const joining = [];
    for (const worker of workers) if (!(await kubeadmJoin.isDone(worker))) joining.push(worker);
    if (joining.length > 0) {
      const ticket = await globals.output.step(`${lab.controlPlane.name}: Create a join token (15 minutes, kept in memory)`, () => makeJoinTicket(controlPlane, lab.controlPlane.address)).catch((err: unknown) => {
        throw err instanceof UserError ? err : new UserError(`${lab.controlPlane.name}: Create a join token failed: ${errorMessage(err)} — fix the cause and run the same command again: finished steps are skipped`, { cause: err, exitCode: exitCodes.failed });
      });
      for (const worker of joining) worker.join = ticket;
    }
    try {
      await onEach(workers, labPhases.workers);
    } finally {
      // The join token is spent: removed now rather than left valid for 15 minutes (its id is not the secret half).
      const id = joining[0]?.join?.token.split('.')[0];
      if (id !== undefined) await controlPlane.host.change(['kubeadm', 'token', 'delete', id, '--kubeconfig', adminConf]);
    }
    await onEach(all, labPhases.everyNode);
  } finally {
    await connected.close();
  }
  if (globals.dryRun) return;
  await installLayers(globals, { userKubeconfig: userKubeconfigFile, contextName: lab.contextName, source: installSettings(flags.artifacts, undefined).source }, layers, monitoringOptions, flags.timeout);
}

/** `tracelab reset --inventory FILE`: every host back as it was (asked once for the lab), then the kubeconfig entries. */
export async function resetLab(globals: GlobalOptions, flags: SshFlags & { inventory: string }, userKubeconfigFile: string): Promise<void> {
  const lab = readInventory(flags.inventory);
  if (!globals.dryRun) {
    const names = lab.hosts.map((host) => host.name).join(', ');
    const agreed = globals.confirm !== undefined && (await globals.confirm(`Reset ${names}: delete the lab's Kubernetes cluster, the pods and their data, and what tracelab installed on each?`));
    if (!agreed) throw new UserError(`tracelab reset deletes the cluster on ${names} and everything in it — pass --yes to confirm (nothing was changed)`);
  }
  const connected = connect(globals, lab, undefined, flags);
  const { executors } = connected;
  try {
    const results = await Promise.allSettled(
      executors.map((executor) => resetHost(hostAccess(executor, { dryRun: globals.dryRun, output: globals.output }), { dryRun: globals.dryRun, output: globals.output, confirm: () => Promise.resolve(true) })),
    );
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [errorMessage(result.reason)] : []));
    if (failures.length > 0) throw new UserError(`reset did not finish: ${failures.join('; ')} — fix the cause and run it again (it is safe to repeat)`, { exitCode: exitCodes.failed });
  } finally {
    await connected.close();
  }
  await removeLabContext(globals, userKubeconfigFile, lab.contextName);
}
