/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import type { V1LabelSelector, V1NetworkPolicy, V1NetworkPolicyIngressRule, V1NetworkPolicyPeer, V1NetworkPolicyPort, V1NetworkPolicySpec } from '@kubernetes/client-node';
import { layerLabel } from '../core/kube/objects.ts';
import { namespaces, partOf, selectorFor } from './common.ts';
import { grafanaPort } from './grafana.ts';
import { defaultJaegerPorts } from './jaeger.ts';
import { metricsServerPort } from './metrics-server.ts';
import { nodeExporterPort } from './node-exporter.ts';
import { prometheusPort } from './prometheus.ts';

/** client-node spells an ingress rule's `from` as `_from`; the API, and so these plain objects, say `from`. */
type IngressRule = Omit<V1NetworkPolicyIngressRule, '_from'> & { from?: V1NetworkPolicyPeer[] };
export type NetworkPolicy = Omit<V1NetworkPolicy, 'spec'> & { spec: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress?: IngressRule[] } };

export interface MonitoringNetworkPolicyOptions {
  readonly grafana: boolean;
  readonly metricsServer: boolean;
}

/** The host-network ports Prometheus and metrics-server reach on the nodes. */
export const nodePorts = {
  /** kube-apiserver as kubeadm runs it, and 443 where it listens there or a Service IP is matched before translation. */
  apiserver: [6443, 443],
  kubelet: 10250,
  nodeExporter: nodeExporterPort,
} as const;

/** The layers whose namespaces Prometheus scrapes pods in: every deployed object carries `tracelab.dev/layer`. */
export const scrapedLayers = ['demo', 'monitoring', 'registry'] as const;

const tcp = (port: number): V1NetworkPolicyPort => ({ protocol: 'TCP', port });
const app = (name: string): V1LabelSelector => ({ matchLabels: selectorFor(name) });
const inNamespace = (namespace: string, pods: V1LabelSelector): V1NetworkPolicyPeer => ({
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  podSelector: pods,
});
const prometheusPods = inNamespace(namespaces.monitoring, app('prometheus'));
const jaegerPods = inNamespace(namespaces.jaeger, app('jaeger'));
const coreDns = inNamespace('kube-system', { matchLabels: { 'k8s-app': 'kube-dns' } });

function policy(name: string, namespace: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  const labels = { 'app.kubernetes.io/component': 'network-policy', 'app.kubernetes.io/part-of': partOf, 'app.kubernetes.io/managed-by': 'tracelab' };
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace, labels }, spec };
}

const defaultDeny = (namespace: string): NetworkPolicy => policy('default-deny', namespace, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });

/**
 * Default deny in and out of `jaeger` and `monitoring`, then one policy per flow the layer needs.
 * Rules towards the nodes (kube-apiserver, kubelets, node-exporter on the host network) name
 * ports but no peer: node addresses are not known when rendering, and Cilium's ipBlock does not
 * match node addresses by default. node-exporter runs on the host network, where no
 * NetworkPolicy applies. Only Calico or Cilium enforce any of this (README, NetworkPolicies).
 */
export function renderMonitoringNetworkPolicies(options: MonitoringNetworkPolicyOptions): NetworkPolicy[] {
  const jaeger = namespaces.jaeger;
  const monitoring = namespaces.monitoring;
  const policies: NetworkPolicy[] = [
    // Jaeger only receives: it resolves and calls nothing, so it has no egress rule (not even DNS).
    defaultDeny(jaeger),
    policy('allow-otlp-from-demo', jaeger, {
      podSelector: app('jaeger'),
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { [layerLabel]: 'demo' } } }], ports: [tcp(defaultJaegerPorts.otlpGrpc), tcp(defaultJaegerPorts.otlpHttp)] }],
    }),
    // The query UI and API: people (port-forward, later an ingress) and Grafana's Jaeger datasource.
    policy('allow-query-from-anywhere', jaeger, {
      podSelector: app('jaeger'),
      policyTypes: ['Ingress'],
      ingress: [{ ports: [tcp(defaultJaegerPorts.queryHttp)] }],
    }),
    policy('allow-scrapes-from-prometheus', jaeger, {
      podSelector: app('jaeger'),
      policyTypes: ['Ingress'],
      ingress: [{ from: [prometheusPods], ports: [tcp(defaultJaegerPorts.metrics)] }],
    }),

    defaultDeny(monitoring),
    policy('allow-dns', monitoring, {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [coreDns], ports: [{ protocol: 'UDP', port: 53 }, tcp(53)] }],
    }),
    // Pods of the lab's namespaces on any port (each target's own policy names the ports it is
    // scraped on), and the nodes' host-network ports.
    policy('allow-prometheus-scrapes', monitoring, {
      podSelector: app('prometheus'),
      policyTypes: ['Egress'],
      egress: [
        { to: [{ namespaceSelector: { matchExpressions: [{ key: layerLabel, operator: 'In', values: [...scrapedLayers] }] } }] },
        { ports: [...nodePorts.apiserver.map(tcp), tcp(nodePorts.kubelet), tcp(nodePorts.nodeExporter)] },
      ],
    }),
    // Grafana's datasource, Prometheus scraping itself, and the mesh layer's Kiali when installed.
    policy('allow-prometheus-queries', monitoring, {
      podSelector: app('prometheus'),
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: app('grafana') }, { podSelector: app('prometheus') }, inNamespace('istio-system', app('kiali'))], ports: [tcp(prometheusPort)] }],
    }),
  ];
  if (options.grafana) {
    policies.push(
      // The UI: people, and Prometheus scraping Grafana's own metrics.
      policy('allow-grafana-from-anywhere', monitoring, {
        podSelector: app('grafana'),
        policyTypes: ['Ingress'],
        ingress: [{ ports: [tcp(grafanaPort)] }],
      }),
      policy('allow-grafana-datasources', monitoring, {
        podSelector: app('grafana'),
        policyTypes: ['Egress'],
        egress: [
          { to: [{ podSelector: app('prometheus') }], ports: [tcp(prometheusPort)] },
          { to: [jaegerPods], ports: [tcp(defaultJaegerPorts.queryHttp)] },
        ],
      }),
    );
  }
  if (options.metricsServer) {
    // kube-system is not the layer's namespace: no default deny there, only metrics-server's own
    // pods isolated. kube-apiserver calls it from the host network; it calls the kubelets and
    // the API server on theirs.
    policies.push(
      policy('metrics-server', namespaces.metricsServer, {
        podSelector: { matchLabels: { 'k8s-app': 'metrics-server', 'app.kubernetes.io/managed-by': 'tracelab' } },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ ports: [tcp(metricsServerPort)] }],
        egress: [{ ports: [tcp(nodePorts.kubelet), ...nodePorts.apiserver.map(tcp)] }],
      }),
    );
  }
  return policies;
}
