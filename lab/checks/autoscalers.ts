import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import { describeCondition } from '../../core/kube/readiness.ts';
import { failed, passed, sleep, type CheckResult } from './check.ts';

export const autoscalersTitle = 'autoscalers read CPU';

/** The conditions that say something is wrong (ScalingLimited=False is the good state). */
const troubled = (condition: { type: string; status: string }): boolean =>
  (condition.type === 'ScalingLimited' ? condition.status === 'True' : condition.status !== 'True');

/**
 * `frontend 3% CPU (2 replicas)`, or why the autoscaler has no CPU reading. `final`: it will not
 * get one by waiting (its target is scaled to 0, which turns the autoscaler off).
 */
function reading(hpa: V2HorizontalPodAutoscaler): { ok: boolean; final?: boolean; text: string } {
  const name = hpa.metadata?.name ?? '?';
  const cpu = (hpa.status?.currentMetrics ?? []).find((metric) => metric.type === 'Resource' && metric.resource?.name === 'cpu')?.resource?.current;
  const utilization = cpu?.averageUtilization;
  if (utilization !== undefined) return { ok: true, text: `${name} ${utilization}% CPU (${hpa.status?.currentReplicas ?? 0} replicas)` };
  const bad = (hpa.status?.conditions ?? []).filter(troubled);
  const why = bad.length === 0 ? 'no reading yet' : bad.map((condition) => describeCondition(condition)).join('; ');
  const final = bad.some((condition) => condition.reason === 'ScalingDisabled');
  return { ok: false, final, text: `HorizontalPodAutoscaler ${hpa.metadata?.namespace ?? ''}/${name} reports no CPU: ${why}` };
}

/** Each service's HorizontalPodAutoscaler has a current CPU reading (from metrics-server), within waitMs. */
export async function checkAutoscalers(kube: KubeClient, options: { namespace: string; services: readonly string[]; waitMs: number }): Promise<CheckResult> {
  const deadline = Date.now() + options.waitMs;
  let lines: { ok: boolean; final?: boolean; text: string }[] = [];
  for (;;) {
    const hpas = await kube.list<V2HorizontalPodAutoscaler>('autoscaling/v2', 'HorizontalPodAutoscaler', { namespace: options.namespace });
    lines = options.services.map((service) => {
      const hpa = hpas.items.find((item) => item.spec.scaleTargetRef.name === service);
      return hpa === undefined ? { ok: false, final: true, text: `no HorizontalPodAutoscaler for ${options.namespace}/${service}` } : reading(hpa);
    });
    if (lines.every((line) => line.ok || line.final === true) || Date.now() >= deadline) break;
    await sleep(3_000);
  }
  const text = (ok: boolean): string =>
    lines
      .filter((line) => line.ok === ok)
      .map((line) => line.text)
      .join('; ');
  return lines.every((line) => line.ok) ? passed('autoscalers', autoscalersTitle, text(true)) : failed('autoscalers', autoscalersTitle, text(false));
}
