import type { KubernetesObject } from '@kubernetes/client-node';

export interface Readiness {
  readonly ready: boolean;
  /** Failed for good (a Job failed, a Deployment exceeded its progress deadline): stop waiting. */
  readonly failed?: boolean;
  /** What is still missing, e.g. `1 of 2 replicas available`. */
  readonly detail: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface Observed extends KubernetesObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: Condition[]; observedGeneration?: number };
}

export const waitedKinds = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'CustomResourceDefinition', 'APIService']);

export function isWaitedFor(object: KubernetesObject): boolean {
  return waitedKinds.has(object.kind ?? '');
}

function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' ? value : fallback;
}

function condition(object: Observed, type: string): Condition | undefined {
  return object.status?.conditions?.find((c) => c.type === type);
}

export function describeCondition(c: Condition): string {
  return `${c.type ?? '?'}=${c.status ?? '?'}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`;
}

function generationObserved(object: Observed): boolean {
  return num(object.status?.observedGeneration, -1) >= num(object.metadata?.generation, 0);
}

/** Whether a workload finished rolling out, judged the way `kubectl rollout status` does. */
export function readinessOf(object: KubernetesObject | undefined): Readiness {
  if (object === undefined) return { ready: false, detail: 'does not exist' };
  const observed = object as Observed;
  const status = observed.status ?? {};
  switch (object.kind) {
    case 'Deployment': {
      const progressing = condition(observed, 'Progressing');
      if (progressing?.reason === 'ProgressDeadlineExceeded') return { ready: false, failed: true, detail: describeCondition(progressing) };
      if (!generationObserved(observed)) return { ready: false, detail: 'new spec not yet observed by the controller' };
      const desired = num(observed.spec?.replicas, 1);
      const updated = num(status.updatedReplicas);
      const total = num(status.replicas);
      const available = num(status.availableReplicas);
      if (updated < desired) return { ready: false, detail: `${updated} of ${desired} replicas updated` };
      if (total > updated) return { ready: false, detail: `${total - updated} old replicas pending termination` };
      // Stricter than `kubectl rollout status`: a scale-down is done when the extra pods are gone.
      if (total > desired) return { ready: false, detail: `${total - desired} replicas above the desired ${desired} still terminating` };
      if (available < updated) return { ready: false, detail: `${available} of ${updated} updated replicas available` };
      return { ready: true, detail: `${available} replicas available` };
    }
    case 'DaemonSet': {
      if (!generationObserved(observed)) return { ready: false, detail: 'new spec not yet observed by the controller' };
      const desired = num(status.desiredNumberScheduled);
      const updated = num(status.updatedNumberScheduled);
      const available = num(status.numberAvailable);
      if (updated < desired) return { ready: false, detail: `${updated} of ${desired} pods updated` };
      if (available < desired) return { ready: false, detail: `${available} of ${desired} pods available` };
      return { ready: true, detail: `${available} pods available` };
    }
    case 'StatefulSet': {
      if (!generationObserved(observed)) return { ready: false, detail: 'new spec not yet observed by the controller' };
      const desired = num(observed.spec?.replicas, 1);
      const ready = num(status.readyReplicas);
      const updated = num(status.updatedReplicas);
      if (updated < desired) return { ready: false, detail: `${updated} of ${desired} replicas updated` };
      if (ready < desired) return { ready: false, detail: `${ready} of ${desired} replicas ready` };
      return { ready: true, detail: `${ready} replicas ready` };
    }
    case 'Job': {
      const failed = condition(observed, 'Failed');
      if (failed?.status === 'True') return { ready: false, failed: true, detail: describeCondition(failed) };
      if (condition(observed, 'Complete')?.status === 'True') return { ready: true, detail: 'complete' };
      return { ready: false, detail: `${num(status.succeeded)} succeeded, ${num(status.active)} active` };
    }
    case 'CustomResourceDefinition': {
      const established = condition(observed, 'Established');
      if (established?.status === 'True') return { ready: true, detail: 'established' };
      return { ready: false, detail: established ? describeCondition(established) : 'not yet established' };
    }
    case 'APIService': {
      // Local APIs (no spec.service) are served by the apiserver itself.
      const available = condition(observed, 'Available');
      if (available?.status === 'True' || observed.spec?.service == null) return { ready: true, detail: 'available' };
      return { ready: false, detail: available ? describeCondition(available) : 'availability not yet reported' };
    }
    default:
      return { ready: true, detail: 'exists' };
  }
}
