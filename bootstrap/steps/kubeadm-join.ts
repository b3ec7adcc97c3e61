import { UserError } from '../../core/errors.ts';
import { containerdSocket, kubeadmConfigYaml, renderKubeadmJoinConfig } from '../kubeadm-config.ts';
import { startService, stopServiceCommand } from '../services.ts';
import { createCgroupScript, kubeletService } from './kubeadm-init.ts';
import { factsOf, nodeOf, type BootstrapContext, type BootstrapStep } from './step.ts';

/** Where the join's config lives while `kubeadm join` runs: it holds the token, so it is 0600 and removed after. */
export const kubeadmJoinConfigFile = '/etc/tracelab/kubeadm-join.yaml';
export const kubeletConf = '/etc/kubernetes/kubelet.conf';
export const kubeletCgroupRootFile = '/etc/tracelab/kubelet-cgroup-root';

/** What `kubeadm join` writes first: any of them means an earlier join got under way. */
const joinLeftovers = ['/etc/kubernetes/bootstrap-kubelet.conf', kubeletConf, '/etc/kubernetes/pki/ca.crt'];

async function joinStarted(ctx: BootstrapContext): Promise<boolean> {
  return (await ctx.host.probe(['sh', '-c', 'for f; do [ -e "$f" ] && exit 0; done; exit 1', 'join-leftovers', ...joinLeftovers])).exitCode === 0;
}

/** A worker joins the cluster with the ticket the control plane just made (ctx.join). */
export const kubeadmJoin: BootstrapStep = {
  title: 'kubeadm join (worker)',
  async isDone(ctx) {
    // Joined, and to this lab's control plane (not to a cluster the host was in before).
    const conf = await ctx.host.read(kubeletConf);
    return conf !== undefined && ctx.lab.controlPlaneAddress !== undefined && conf.includes(`server: https://${ctx.lab.controlPlaneAddress}:6443`);
  },
  async run(ctx) {
    const facts = factsOf(ctx);
    const node = nodeOf(ctx);
    if (ctx.join === undefined) {
      if (ctx.dryRun) {
        ctx.output.info(`  would join ${node.name} with a fresh 15-minute token from the control plane`);
        return;
      }
      throw new Error('no join ticket: the control plane makes one before the workers join');
    }
    if ((await ctx.host.read('/etc/kubernetes/admin.conf')) !== undefined || (await ctx.host.read('/etc/kubernetes/manifests/kube-apiserver.yaml')) !== undefined) {
      throw new UserError(`${ctx.host.name} runs a control plane of its own — a worker must be a clean host: \`tracelab reset\` it, or give it the control-plane role`);
    }
    // A join stopped half-way left a kubelet waiting for its config: start over cleanly.
    await ctx.host.change(stopServiceCommand('kubelet'));
    if (await joinStarted(ctx)) await ctx.host.change(['kubeadm', 'reset', '--force', '--cri-socket', containerdSocket]);
    if (ctx.lab.kubeletCgroupRoot !== undefined) {
      await ctx.host.change(['sh', '-c', createCgroupScript, 'create-cgroup', ctx.lab.kubeletCgroupRoot]);
      // For reset, which removes it once the pods are gone (a control plane's is in its kubeadm config).
      await ctx.host.write(kubeletCgroupRootFile, `cgroupRoot: ${ctx.lab.kubeletCgroupRoot}\n`);
    }
    const config = kubeadmConfigYaml(
      renderKubeadmJoinConfig({
        nodeName: node.name,
        nodeIP: node.ip,
        criSocket: containerdSocket,
        apiServerEndpoint: ctx.join.apiServerEndpoint,
        token: ctx.join.token,
        caCertHash: ctx.join.caCertHash,
        cgroupV1: facts.cgroupVersion === 1,
        kubeletCgroupRoot: ctx.lab.kubeletCgroupRoot,
      }),
    );
    await ctx.host.write(kubeadmJoinConfigFile, config, 0o600);
    try {
      await startService(ctx.host, kubeletService(ctx.lab.source), facts.systemd);
      await ctx.host.change(['kubeadm', 'join', '--config', kubeadmJoinConfigFile]);
    } finally {
      // The token goes with the join; a failure to remove it must not hide the join's own error.
      await ctx.host.change(['rm', '-f', kubeadmJoinConfigFile]).catch(() => undefined);
    }
  },
};
