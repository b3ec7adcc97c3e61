import type { KubeClient } from '../../core/kube/client.ts';
import type { Output } from '../../core/output.ts';
import type { HostFacts } from '../host-facts.ts';
import type { HostAccess } from '../host-access.ts';

/** What one host of the lab becomes, decided before any step runs (validated input, no host probing). */
export interface NodePlan {
  /** standalone: a control plane that runs pods; otherwise one node of a multi-node lab. */
  readonly role: 'standalone' | 'control-plane' | 'worker';
  /** The pod network: the single-node bridge, or Flannel across nodes. */
  readonly cni: 'bridge' | 'flannel';
  /** Whether the control plane runs pods too (no control-plane taint). */
  readonly controlPlaneRunsPods: boolean;
  /** Every node's kubelet and containerd cgroup driver; undefined: detected on the host. */
  readonly cgroupDriver: 'systemd' | 'cgroupfs' | undefined;
  /** The control plane's address (the API at :6443); for standalone, the node's own. */
  readonly controlPlaneAddress: string | undefined;
  /** Node name and address; undefined: the host's name and its one (or default-route) address. */
  readonly nodeName: string | undefined;
  readonly nodeIP: string | undefined;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  readonly kubernetesVersion: string;
  readonly source: InstallSource;
  /** `registry.k8s.io` online; the artifacts' own name air-gapped, where nothing is pulled. */
  readonly imageRepository: string;
  /** Air-gapped: the tags the artifacts carry; online: kubeadm's own defaults. */
  readonly etcdImageTag: string | undefined;
  readonly corednsImageTag: string | undefined;
  /** For several nodes on one machine: each kubelet's pods under their own cgroup. */
  readonly kubeletCgroupRoot: string | undefined;
  readonly nodeLabels: Readonly<Record<string, string>>;
  /** The kubeconfig on this machine that gets the lab's context (merged, 0600). */
  readonly userKubeconfig: string;
  readonly contextName: string;
  readonly timeoutMs: number;
}

/**
 * Where binaries and images come from: an artifacts directory (`tracelab artifacts build`, for
 * air-gapped labs), or online: pkgs.k8s.io packages and release archives pinned by SHA-256.
 */
export type InstallSource = { readonly kind: 'artifacts'; readonly dir: string; readonly hostDir: string } | { readonly kind: 'online' };

/** The node as preflight resolved it. */
export interface ResolvedNode {
  readonly name: string;
  readonly ip: string;
}

/** What every step receives; facts and node are set by preflight, the first step. */
export interface BootstrapContext {
  readonly host: HostAccess;
  readonly lab: NodePlan;
  readonly output: Output;
  readonly dryRun: boolean;
  facts: HostFacts | undefined;
  node: ResolvedNode | undefined;
  /** A client for the new cluster, once the user's kubeconfig has its context. */
  kube: KubeClient | undefined;
  /** A worker's way into the cluster: made on the control plane just before the join, kept in memory only. */
  join: JoinTicket | undefined;
}

/** One step of the bootstrap, kind-style: a title, whether it is done already, and the work. */
export interface BootstrapStep {
  readonly title: string;
  /** True when the host already is as the step would leave it: the step is skipped. */
  isDone(ctx: BootstrapContext): Promise<boolean>;
  run(ctx: BootstrapContext): Promise<void>;
}

export function factsOf(ctx: BootstrapContext): HostFacts {
  if (ctx.facts === undefined) throw new Error('host facts are read by the preflight step, which must run first');
  return ctx.facts;
}

export function nodeOf(ctx: BootstrapContext): ResolvedNode {
  if (ctx.node === undefined) throw new Error('the node is resolved by the preflight step, which must run first');
  return ctx.node;
}

/** What `kubeadm join` needs: a short-lived bootstrap token and the cluster CA's public key hash. */
export interface JoinTicket {
  readonly apiServerEndpoint: string;
  readonly token: string;
  readonly caCertHash: string;
}

/** The kubelet and containerd must agree: the lab's choice, else systemd's driver only on cgroup v2 hosts run by systemd. */
export function cgroupDriverOf(ctx: BootstrapContext): 'systemd' | 'cgroupfs' {
  const facts = factsOf(ctx);
  return ctx.lab.cgroupDriver ?? (facts.cgroupVersion === 2 && facts.systemd ? 'systemd' : 'cgroupfs');
}
