import type { V1Node } from '@kubernetes/client-node';
import { explainKubeError } from '../../core/kube/report.ts';
import { nodeOf, type BootstrapStep } from './step.ts';
import { labKube } from './user-kubeconfig.ts';

/** The lab's node labels (e.g. tracelab.dev/profile, which node-exporter's --node-profile selects on). */
export const nodeLabels: BootstrapStep = {
  title: 'Label the node',
  async isDone(ctx) {
    if (Object.keys(ctx.lab.nodeLabels).length === 0) return true;
    if (ctx.dryRun) return false;
    const node = await labKube(ctx).get<V1Node>({ apiVersion: 'v1', kind: 'Node', name: nodeOf(ctx).name });
    return Object.entries(ctx.lab.nodeLabels).every(([key, value]) => node?.metadata?.labels?.[key] === value);
  },
  async run(ctx) {
    if (ctx.dryRun) {
      ctx.output.info(`  would label node ${nodeOf(ctx).name}: ${Object.entries(ctx.lab.nodeLabels).map(([key, value]) => `${key}=${value}`).join(', ')}`);
      return;
    }
    const kube = labKube(ctx);
    const ref = { apiVersion: 'v1', kind: 'Node', name: nodeOf(ctx).name };
    try {
      await kube.request('PATCH', await kube.path(ref), {
        query: { fieldManager: 'tracelab-bootstrap', force: true },
        contentType: 'application/apply-patch+yaml',
        body: { apiVersion: 'v1', kind: 'Node', metadata: { name: ref.name, labels: ctx.lab.nodeLabels } },
      });
    } catch (err) {
      throw explainKubeError('label', ref, err);
    }
  },
};
