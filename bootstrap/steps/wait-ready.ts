import type { KubernetesObject } from '@kubernetes/client-node';
import { UserError, exitCodes } from '../../core/errors.ts';
import { waitForReady, watchObject } from '../../core/kube/wait.ts';
import { nodeOf, type BootstrapStep } from './step.ts';
import { labKube } from './user-kubeconfig.ts';

function nodeReady(node: KubernetesObject | undefined): boolean {
  const conditions = (node as { status?: { conditions?: { type?: string; status?: string }[] } } | undefined)?.status?.conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

const coredns = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system' } };

/** The node Ready and CoreDNS rolled out: its readiness probe answers only once it serves the cluster's names. */
export const waitReady: BootstrapStep = {
  title: 'Wait until the node is Ready and CoreDNS answers',
  isDone: () => Promise.resolve(false),
  async run(ctx) {
    if (ctx.dryRun) return;
    const kube = labKube(ctx);
    const deadline = AbortSignal.timeout(ctx.lab.timeoutMs);
    const name = nodeOf(ctx).name;
    try {
      await watchObject(kube, { apiVersion: 'v1', kind: 'Node', name }, nodeReady, deadline);
    } catch (err) {
      if (!deadline.aborted) throw err;
      throw new UserError(`node ${name} did not become Ready within the timeout — look at the kubelet's log on ${ctx.host.name} (/var/log/tracelab/kubelet.log, or journalctl -u kubelet)`, { exitCode: exitCodes.timedOut });
    }
    // Once per lab: the control plane's context waits for CoreDNS, the workers' only for their node.
    if (ctx.lab.role !== 'worker') await waitForReady(kube, [coredns], { timeoutMs: ctx.lab.timeoutMs, output: ctx.output });
  },
};
