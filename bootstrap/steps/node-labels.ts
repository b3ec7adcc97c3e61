import type { V1Node } from '@kubernetes/client-node';
import { explainKubeError } from '../../core/kube/report.ts';
import { labRegistryNodeLabel } from '../../registry/address.ts';
import { nodeOf, type BootstrapContext, type BootstrapStep } from './step.ts';
import { labKube } from './user-kubeconfig.ts';

/**
 * The lab's node labels (e.g. tracelab.dev/profile, which node-exporter's --node-profile selects on),
 * and the one saying the node's containerd can pull from the lab registry (the container runtime
 * step wrote its hosts.toml), which deploy:demo looks for.
 */
function labelsOf(ctx: BootstrapContext): Record<string, string> {
  return { ...ctx.lab.nodeLabels, [labRegistryNodeLabel]: 'true' };
}

export const nodeLabels: BootstrapStep = {
  title: 'Label the node',
  async isDone(ctx) {
    if (ctx.dryRun) return false;
    const node = await labKube(ctx).get<V1Node>({ apiVersion: 'v1', kind: 'Node', name: nodeOf(ctx).name });
    return Object.entries(labelsOf(ctx)).every(([key, value]) => node?.metadata?.labels?.[key] === value);
  },
  async run(ctx) {
    if (ctx.dryRun) {
      ctx.output.info(`  would label node ${nodeOf(ctx).name}: ${Object.entries(labelsOf(ctx)).map(([key, value]) => `${key}=${value}`).join(', ')}`);
      return;
    }
    const kube = labKube(ctx);
    const ref = { apiVersion: 'v1', kind: 'Node', name: nodeOf(ctx).name };
    try {
      await kube.request('PATCH', await kube.path(ref), {
        query: { fieldManager: 'tracelab-bootstrap', force: true },
        contentType: 'application/apply-patch+yaml',
        body: { apiVersion: 'v1', kind: 'Node', metadata: { name: ref.name, labels: labelsOf(ctx) } },
      });
    } catch (err) {
      throw explainKubeError('label', ref, err);
    }
  },
};
