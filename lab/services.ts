import type { V1Deployment, V1Endpoint, V1Service } from '@kubernetes/client-node';
import type { KubeClient } from '../core/kube/client.ts';
import { describeRef } from '../core/kube/objects.ts';
import { readinessOf } from '../core/kube/readiness.ts';
import { explainNotReady } from '../core/kube/wait.ts';
import { demoDefaults } from '../demo/options.ts';
import { servicePort } from '../demo/render.ts';
import { namespaces } from '../monitoring/common.ts';
import { defaultJaegerPorts } from '../monitoring/jaeger.ts';
import { prometheusPort } from '../monitoring/prometheus.ts';

/** A Service of the lab a person or `verify` talks to, and the layer that installs it. */
export interface LabService {
  readonly title: string;
  readonly layer: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number;
}

export const jaegerQuery: LabService = { title: 'Jaeger', layer: 'monitoring', namespace: namespaces.jaeger, service: 'jaeger-query', port: defaultJaegerPorts.queryHttp };
export const prometheus: LabService = { title: 'Prometheus', layer: 'monitoring', namespace: namespaces.monitoring, service: 'prometheus', port: prometheusPort };

export function demoFrontend(namespace: string = demoDefaults.namespace): LabService {
  return { title: 'demo frontend', layer: 'demo', namespace, service: 'frontend', port: servicePort };
}

interface EndpointSlice {
  endpoints?: (V1Endpoint & { conditions?: { ready?: boolean } })[] | null;
}

/**
 * Why a Service cannot be reached, or undefined when it has a ready endpoint: no such Service, or
 * no ready endpoint and what its Deployment says about that (scaled to 0, pods not ready and why).
 */
export async function serviceProblem(kube: KubeClient, target: { namespace: string; service: string }): Promise<string | undefined> {
  const name = `Service ${target.namespace}/${target.service}`;
  const service = await kube.get<V1Service>({ apiVersion: 'v1', kind: 'Service', name: target.service, namespace: target.namespace });
  if (service === undefined) return `${name} does not exist`;
  const slices = await kube.list<EndpointSlice & { apiVersion: string; kind: string }>('discovery.k8s.io/v1', 'EndpointSlice', {
    namespace: target.namespace,
    labelSelector: `kubernetes.io/service-name=${target.service}`,
  });
  const ready = slices.items.flatMap((slice) => slice.endpoints ?? []).filter((endpoint) => endpoint.conditions?.ready !== false);
  if (ready.length > 0) return undefined;
  return `${name} has no ready endpoints${await whyNoPods(kube, target.namespace, service)}`;
}

/** `: Deployment jaeger/jaeger scaled to 0 replicas`, or the Deployment's rollout trouble. */
async function whyNoPods(kube: KubeClient, namespace: string, service: V1Service): Promise<string> {
  const selector = service.spec?.selector ?? {};
  if (Object.keys(selector).length === 0) return ' (it has no selector)';
  const deployments = await kube.list<V1Deployment>('apps/v1', 'Deployment', { namespace });
  const selects = (deployment: V1Deployment): boolean => {
    const labels = deployment.spec?.template.metadata?.labels ?? {};
    return Object.entries(selector).every(([key, value]) => labels[key] === value);
  };
  const owners = deployments.items.filter(selects);
  if (owners.length === 0) return ': no Deployment has pods it selects';
  const reasons = await Promise.all(
    owners.map(async (deployment) => {
      const ref = { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata?.name ?? '', namespace };
      if (deployment.spec?.replicas === 0) return `${describeRef(ref)} is scaled to 0 replicas (no pods)`;
      const readiness = readinessOf(deployment);
      return explainNotReady(kube, deployment, readiness.ready ? { ready: false, detail: 'no pod ready' } : readiness);
    }),
  );
  return `: ${reasons.join('; ')}`;
}
