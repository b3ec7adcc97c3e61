import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1LabelSelector, V1PodTemplateSpec } from '@kubernetes/client-node';
import { withLayerLabels } from '../../core/kube/objects.ts';
import type { Layer } from '../../core/layer.ts';
import { demoLayer } from '../../demo/layer.ts';
import { footprintLayerOptions } from '../../monitoring/footprint.ts';
import { monitoringLayer, parseMonitoringOptions } from '../../monitoring/layer.ts';
import { renderMonitoringNetworkPolicies, type NetworkPolicy } from '../../monitoring/network-policies.ts';

const byName = (policies: NetworkPolicy[], namespace: string, name: string): NetworkPolicy =>
  policies.find((p) => p.metadata?.namespace === namespace && p.metadata.name === name) ?? assert.fail(`NetworkPolicy ${namespace}/${name} is rendered`);

describe('renderMonitoringNetworkPolicies()', () => {
  const all = renderMonitoringNetworkPolicies({ grafana: true, metricsServer: true });

  it('denies all ingress and egress by default in each namespace the layer owns, and only there', () => {
    for (const namespace of monitoringLayer.namespaces ?? []) {
      assert.deepEqual(byName(all, namespace, 'default-deny').spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    }
    assert.ok(!all.some((p) => p.metadata?.namespace === 'kube-system' && p.metadata.name === 'default-deny'), 'kube-system is not the layer’s to lock down');
  });

  it('isolates only its own metrics-server in kube-system: the API server in on 10250, out to kubelets and the API server', () => {
    assert.deepEqual(byName(all, 'kube-system', 'metrics-server').spec, {
      podSelector: { matchLabels: { 'k8s-app': 'metrics-server', 'app.kubernetes.io/managed-by': 'tracelab' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [{ protocol: 'TCP', port: 10250 }] }],
      egress: [{ ports: [10250, 6443, 443].map((port) => ({ protocol: 'TCP', port })) }],
    });
  });

  it('renders Grafana’s and metrics-server’s policies only with them', () => {
    const names = renderMonitoringNetworkPolicies({ grafana: false, metricsServer: false }).map((p) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`);
    assert.ok(!names.some((name) => /grafana|metrics-server/.test(name)), names.join(', '));
    assert.ok(names.includes('monitoring/allow-prometheus-scrapes'));
  });

  it('is part of the layer, so deploy, prune and teardown handle the policies', () => {
    const rendered = monitoringLayer.render(parseMonitoringOptions({})).filter((o) => o.kind === 'NetworkPolicy');
    assert.deepEqual(rendered, all);
  });
});

/**
 * The lab as it is deployed (both layers, namespaces labelled as the engine labels them),
 * judged by NetworkPolicy semantics: a flow passes when the source's egress and the
 * destination's ingress both allow it. A node (kube-apiserver, a kubelet, a host-network pod)
 * or anything outside the cluster is matched only by a rule without peers.
 */
interface Endpoint {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

const outside: Endpoint = { name: 'outside' };
const node: Endpoint = { name: 'node' };

function labMembers(): { policies: NetworkPolicy[]; namespaceLabels: Map<string, Record<string, string>>; pods: Map<string, Endpoint> } {
  const layers: readonly Layer<unknown>[] = [demoLayer, monitoringLayer];
  const objects: KubernetesObject[] = layers.flatMap((layer) =>
    layer.render(layer.parseOptions(footprintLayerOptions[layer.name] ?? {})).map((object) => withLayerLabels(object, layer.name)),
  );
  const namespaceLabels = new Map<string, Record<string, string>>([['kube-system', { 'kubernetes.io/metadata.name': 'kube-system' }]]);
  for (const object of objects.filter((o) => o.kind === 'Namespace')) {
    const name = object.metadata?.name ?? '';
    namespaceLabels.set(name, { ...object.metadata?.labels, 'kubernetes.io/metadata.name': name });
  }
  const pods = new Map<string, Endpoint>([['coredns', { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }]]);
  for (const object of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet')) {
    const template = (object as { spec?: { template?: V1PodTemplateSpec } }).spec?.template;
    const name = object.metadata?.name ?? '';
    // Host-network pods are the node, as far as NetworkPolicy goes.
    pods.set(name, template?.spec?.hostNetwork === true ? { ...node, name } : { name, namespace: object.metadata?.namespace, labels: template?.metadata?.labels });
  }
  return { policies: objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy'), namespaceLabels, pods };
}

function selects(selector: V1LabelSelector | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (selector === undefined) return true;
  const matchLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels?.[key] === value);
  const expressions = (selector.matchExpressions ?? []).every((e) => {
    assert.equal(e.operator, 'In', 'the evaluator knows matchExpressions with In only');
    return (e.values ?? []).includes(labels?.[e.key] ?? '\0');
  });
  return matchLabels && expressions;
}

type Peer = NonNullable<NonNullable<NetworkPolicy['spec']['egress']>[number]['to']>[number];

function peerMatches(peer: Peer, policyNamespace: string, endpoint: Endpoint, namespaceLabels: Map<string, Record<string, string>>): boolean {
  if (endpoint.namespace === undefined || peer.ipBlock !== undefined) return false;
  const namespaceOk = peer.namespaceSelector === undefined ? endpoint.namespace === policyNamespace : selects(peer.namespaceSelector, namespaceLabels.get(endpoint.namespace));
  return namespaceOk && selects(peer.podSelector, endpoint.labels);
}

function allows(
  lab: ReturnType<typeof labMembers>,
  pod: Endpoint,
  direction: 'Ingress' | 'Egress',
  peer: Endpoint,
  port: number,
  protocol: string,
): boolean {
  if (pod.namespace === undefined) return true; // policies select pods, not nodes or the outside
  const applying = lab.policies.filter((p) => p.metadata?.namespace === pod.namespace && p.spec.policyTypes?.includes(direction) === true && selects(p.spec.podSelector, pod.labels));
  if (applying.length === 0) return true;
  return applying.some((policy) => {
    const rules = direction === 'Ingress' ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
    return rules.some(
      (rule) =>
        (rule.peers === undefined || rule.peers.length === 0 || rule.peers.some((p) => peerMatches(p, pod.namespace ?? '', peer, lab.namespaceLabels))) &&
        (rule.ports === undefined || rule.ports.some((p) => p.port === port && (p.protocol ?? 'TCP') === protocol)),
    );
  });
}

describe('the lab’s NetworkPolicies, flow by flow', () => {
  const lab = labMembers();
  const endpoint = (name: string): Endpoint => (name === 'outside' ? outside : name === 'node' ? node : (lab.pods.get(name) ?? assert.fail(`no pod ${name}`)));
  const flow = (from: string, to: string, port: number, protocol = 'TCP'): boolean => {
    const source = endpoint(from);
    const destination = endpoint(to);
    return allows(lab, source, 'Egress', destination, port, protocol) && allows(lab, destination, 'Ingress', source, port, protocol);
  };

  const allowed: [string, string, number, string?][] = [
    ['outside', 'frontend', 8080],
    ['frontend', 'backend', 8080],
    ['frontend', 'coredns', 53, 'UDP'],
    ['backend', 'coredns', 53, 'TCP'],
    ['frontend', 'jaeger', 4318],
    ['backend', 'jaeger', 4317],
    ['prometheus', 'frontend', 8080],
    ['prometheus', 'backend', 15020],
    ['prometheus', 'jaeger', 8888],
    ['prometheus', 'grafana', 3000],
    ['prometheus', 'prometheus', 9090],
    ['prometheus', 'node', 6443],
    ['prometheus', 'node', 10250],
    ['prometheus', 'node-exporter', 9100],
    ['grafana', 'prometheus', 9090],
    ['grafana', 'jaeger', 16686],
    ['grafana', 'coredns', 53, 'UDP'],
    ['outside', 'jaeger', 16686],
    ['outside', 'grafana', 3000],
    ['node', 'metrics-server', 10250],
    ['metrics-server', 'node', 10250],
    ['metrics-server', 'node', 6443],
  ];
  for (const [from, to, port, protocol] of allowed) {
    it(`allows ${from} → ${to}:${port}${protocol === undefined ? '' : `/${protocol}`}`, () => {
      assert.equal(flow(from, to, port, protocol), true);
    });
  }

  const denied: [string, string, number][] = [
    ['outside', 'backend', 8080],
    ['backend', 'frontend', 8080],
    ['frontend', 'backend', 9999],
    ['frontend', 'jaeger', 16686],
    ['frontend', 'prometheus', 9090],
    ['frontend', 'outside', 443],
    ['outside', 'jaeger', 4318],
    ['outside', 'prometheus', 9090],
    ['jaeger', 'coredns', 53],
    ['jaeger', 'outside', 443],
    ['prometheus', 'backend', 9999],
    ['prometheus', 'outside', 80],
    ['grafana', 'outside', 443],
    ['grafana', 'frontend', 8080],
    ['metrics-server', 'outside', 80],
  ];
  for (const [from, to, port] of denied) {
    it(`denies ${from} → ${to}:${port}`, () => {
      assert.equal(flow(from, to, port), false);
    });
  }
});
