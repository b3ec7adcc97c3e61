import { kubeadmConfigYaml, renderKubeadmInitConfig, containerdSocket } from '../kubeadm-config.ts';
import { UserError } from '../../core/errors.ts';
import { startService, stopServiceCommand, type ServiceSpec } from '../services.ts';
import { cgroupDriverOf, factsOf, nodeOf, type BootstrapContext, type BootstrapStep, type InstallSource } from './step.ts';

export const kubeadmConfigFile = '/etc/tracelab/kubeadm.yaml';

/**
 * The kubelet as kubeadm's systemd drop-in runs it: it waits (restarting every 2 s) until
 * `kubeadm init` has written its config and flags, then serves. The packages put it in /usr/bin,
 * the artifacts in /usr/local/bin.
 */
export function kubeletService(source: InstallSource): ServiceSpec {
  const binary = source.kind === 'online' ? '/usr/bin/kubelet' : '/usr/local/bin/kubelet';
  return {
    name: 'kubelet',
    description: 'kubelet: the Kubernetes node agent (tracelab)',
    command: `[ -f /var/lib/kubelet/config.yaml ] && { [ -f /var/lib/kubelet/kubeadm-flags.env ] && . /var/lib/kubelet/kubeadm-flags.env; exec ${binary} --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml $KUBELET_KUBEADM_ARGS; }`,
  };
}

export function kubeadmConfig(ctx: BootstrapContext): string {
  const facts = factsOf(ctx);
  const node = nodeOf(ctx);
  const documents = renderKubeadmInitConfig({
    kubernetesVersion: ctx.lab.kubernetesVersion,
    nodeName: node.name,
    nodeIP: node.ip,
    podSubnet: ctx.lab.podSubnet,
    serviceSubnet: ctx.lab.serviceSubnet,
    imageRepository: ctx.lab.imageRepository,
    etcdImageTag: ctx.lab.etcdImageTag,
    corednsImageTag: ctx.lab.corednsImageTag,
    cgroupDriver: cgroupDriverOf(ctx),
    cgroupV1: facts.cgroupVersion === 1,
    schedulePodsOnControlPlane: ctx.lab.controlPlaneRunsPods,
    criSocket: containerdSocket,
  });
  if (ctx.lab.kubeletCgroupRoot !== undefined) {
    const kubelet = documents.find((document) => document.kind === 'KubeletConfiguration');
    if (kubelet !== undefined) kubelet.cgroupRoot = ctx.lab.kubeletCgroupRoot;
  }
  return kubeadmConfigYaml(documents);
}

/** `kubeadm init` from the generated config, with the kubelet supervised (a systemd unit, or tracelab's loop). */
export const kubeadmInit: BootstrapStep = {
  title: 'kubeadm init (control plane)',
  async isDone(ctx) {
    // The record, not a probe of the API: an API slow to answer must never look like an unfinished init.
    return (await ctx.host.read(kubeadmInitRecord)) === kubeadmConfig(ctx) && (await ctx.host.read(adminConf)) !== undefined;
  },
  async run(ctx) {
    const written = await ctx.host.read(kubeadmConfigFile);
    const adminExists = (await ctx.host.read(adminConf)) !== undefined;
    if (written === undefined && adminExists) {
      throw new UserError(`${ctx.host.name} already runs a Kubernetes cluster tracelab did not make — bootstrap another host, or remove that cluster first (kubeadm reset)`);
    }
    const finished = await ctx.host.read(kubeadmInitRecord);
    if (finished !== undefined && finished !== kubeadmConfig(ctx)) {
      // kubeadm cannot change a cluster's settings in place.
      throw new UserError(`${ctx.host.name} already runs a cluster made with other settings (${kubeadmConfigFile} differs) — \`tracelab reset\` it first, or run with the settings it was made with`);
    }
    if (written !== undefined) {
      if (written !== kubeadmConfig(ctx) && adminExists) {
        // kubeadm cannot change a cluster's settings in place.
        throw new UserError(`${ctx.host.name} already runs a cluster made with other settings (${kubeadmConfigFile} differs) — \`tracelab reset\` it first, or run with the settings it was made with`);
      }
      // Our own init, stopped half-way (killed, timed out): stop its kubelet and start over.
      ctx.output.warn(`${ctx.host.name}: an earlier kubeadm init did not finish: resetting it and running it again`);
      await ctx.host.change(stopServiceCommand(kubeletService(ctx.lab.source).name));
      await ctx.host.change(['kubeadm', 'reset', '--force', '--cri-socket', containerdSocket]);
    }
    await ctx.host.write(kubeadmConfigFile, kubeadmConfig(ctx));
    if (ctx.lab.kubeletCgroupRoot !== undefined) await ctx.host.change(['sh', '-c', createCgroupScript, 'create-cgroup', ctx.lab.kubeletCgroupRoot]);
    await startService(ctx.host, kubeletService(ctx.lab.source), factsOf(ctx).systemd);
    await ctx.host.change(['kubeadm', 'init', '--config', kubeadmConfigFile, '--skip-token-print']);
    await ctx.host.write(kubeadmInitRecord, kubeadmConfig(ctx), 0o600);
  },
};

/** Written once `kubeadm init` finished, with the config it ran: a re-run skips, a changed config is refused. */
export const kubeadmInitRecord = '/var/lib/tracelab/kubeadm-init.done';

export const adminConf = '/etc/kubernetes/admin.conf';

/**
 * The kubelet's --cgroup-root must exist in every hierarchy before it starts (a cgroup v1 cpuset
 * also needs its CPUs and memory nodes); on cgroup v2 one directory is enough.
 */
export const createCgroupScript = [
  'root=${1#/}',
  'if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then mkdir -p "/sys/fs/cgroup/$root"; exit 0; fi',
  'for h in /sys/fs/cgroup/*/; do',
  '  [ -e "$h/cgroup.procs" ] || continue',
  '  mkdir -p "$h$root"',
  '  if [ -e "$h/cpuset.cpus" ]; then',
  '    [ -n "$(cat "$h$root/cpuset.cpus")" ] || cat "$h/cpuset.cpus" >"$h$root/cpuset.cpus"',
  '    [ -n "$(cat "$h$root/cpuset.mems")" ] || cat "$h/cpuset.mems" >"$h$root/cpuset.mems"',
  '  fi',
  'done',
].join('\n');
