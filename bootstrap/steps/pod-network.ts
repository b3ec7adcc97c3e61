import type { KubernetesObject, V1DaemonSet } from '@kubernetes/client-node';
import { deployLayer } from '../../core/kube/apply.ts';
import { offlineFlannelImage, renderFlannel, upstreamFlannelImage } from '../cni/flannel.ts';
import { readVersions } from '../versions.ts';
import type { BootstrapContext, BootstrapStep } from './step.ts';
import { labKube } from './user-kubeconfig.ts';
import { adminConf } from './kubeadm-init.ts';

/** Flannel for a multi-node lab: its own image air-gapped, upstream's online; VXLAN over the interface that reaches the control plane. */
export function flannelObjects(ctx: BootstrapContext): KubernetesObject[] {
  const versions = readVersions();
  const airGapped = ctx.lab.source.kind === 'artifacts';
  return renderFlannel({
    podSubnet: ctx.lab.podSubnet,
    image: airGapped ? offlineFlannelImage(versions.flannel) : upstreamFlannelImage(versions.flannel),
    ...(airGapped ? {} : { cniPluginImage: versions.flannelCniPluginImage }),
    // Not the default route's interface: on Vagrant that is the NAT one, the same 10.0.2.15 on every VM.
    interface: { nodeAddress: true },
  });
}

const daemonSetOf = (objects: readonly KubernetesObject[]): V1DaemonSet | undefined => objects.find((object): object is V1DaemonSet => object.kind === 'DaemonSet');

/** Flannel's objects, applied through the deploy engine once the control plane answers (run on the control plane's context). */
export const podNetwork: BootstrapStep = {
  title: 'Pod network (Flannel, VXLAN)',
  async isDone(ctx) {
    // A dry run before the cluster (or before your kubeconfig has its context) has nothing to compare.
    if (ctx.dryRun && (await ctx.host.read(adminConf)) === undefined) return false;
    const wanted = daemonSetOf(flannelObjects(ctx));
    if (wanted?.metadata?.name === undefined) return false;
    const live = await labKube(ctx)
      .get<V1DaemonSet>({ apiVersion: 'apps/v1', kind: 'DaemonSet', name: wanted.metadata.name, namespace: wanted.metadata.namespace })
      .catch((err: unknown) => {
        if (ctx.dryRun) return undefined;
        throw err;
      });
    const template = (set: V1DaemonSet | undefined): string => JSON.stringify([set?.spec?.template.metadata?.annotations, set?.spec?.template.spec?.containers.map((c) => c.image)]);
    return live !== undefined && template(live) === template(wanted);
  },
  async run(ctx) {
    if (ctx.dryRun && (await ctx.host.read(adminConf)) === undefined) {
      ctx.output.info(`  would apply Flannel (${flannelObjects(ctx).length} objects) once the control plane answers`);
      return;
    }
    // No rollout wait: the workers join next; every node's readiness is waited for at the end.
    await deployLayer(labKube(ctx), { layer: 'pod-network', objects: flannelObjects(ctx), dryRun: ctx.dryRun, timeoutMs: ctx.lab.timeoutMs, output: ctx.output, wait: false, command: 'bootstrap' });
  },
};
