import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { istioMetricsPort, observabilityPods, otlpPorts, renderDemoNetworkPolicies, type NetworkPolicy } from '../../demo/network-policies.ts';
import { parseDemoOptions } from '../../demo/options.ts';
import { otlpEndpoint, renderDemo, servicePort } from '../../demo/render.ts';
import { defaultJaegerPorts } from '../../monitoring/jaeger.ts';
import { parseMonitoringOptions, renderMonitoring } from '../../monitoring/layer.ts';

const options = parseDemoOptions({ images: 'frontend=reg.local/frontend:v1,backend=reg.local/backend:v1', namespace: 'demo-x' });
const policies = renderDemoNetworkPolicies(options, servicePort);
const byName = (name: string): NetworkPolicy => policies.find((p) => p.metadata?.name === name) ?? assert.fail(`NetworkPolicy ${name} is rendered`);
const tcp = (port: number) => ({ protocol: 'TCP', port });

describe('renderDemoNetworkPolicies()', () => {
  it('renders a default deny, then one policy per flow, all in the demo namespace', () => {
    assert.deepEqual(policies.map((p) => p.metadata?.name), [
      'default-deny',
      'allow-dns',
      'allow-frontend-from-anywhere',
      'allow-frontend-to-backend',
      'allow-backend-from-frontend',
      'allow-otlp-to-jaeger',
      'allow-sidecars-to-istiod',
      'allow-scrapes-from-prometheus',
    ]);
    for (const policy of policies) assert.equal(policy.metadata?.namespace, 'demo-x');
  });

  it('denies all ingress and egress of every pod by default', () => {
    assert.deepEqual(byName('default-deny').spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it('allows exactly the flows the demo needs', () => {
    assert.deepEqual(byName('allow-dns').spec.egress, [
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
        ports: [{ protocol: 'UDP', port: 53 }, tcp(53)],
      },
    ]);
    assert.deepEqual(byName('allow-frontend-from-anywhere').spec, { podSelector: { matchLabels: { app: 'frontend' } }, policyTypes: ['Ingress'], ingress: [{ ports: [tcp(8080)] }] });
    assert.deepEqual(byName('allow-frontend-to-backend').spec.egress, [{ to: [{ podSelector: { matchLabels: { app: 'backend' } } }], ports: [tcp(8080)] }]);
    assert.deepEqual(byName('allow-backend-from-frontend').spec.ingress, [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [tcp(8080)] }]);
    assert.deepEqual(byName('allow-otlp-to-jaeger').spec.egress, [
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'jaeger' } }, podSelector: { matchLabels: { app: 'jaeger' } } }],
        ports: [tcp(4317), tcp(4318)],
      },
    ]);
    assert.deepEqual(byName('allow-sidecars-to-istiod').spec.egress, [
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { app: 'istiod' } } }], ports: [tcp(15012)] },
    ]);
    assert.deepEqual(byName('allow-scrapes-from-prometheus').spec.ingress, [
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { app: 'prometheus' } } }],
        ports: [tcp(8080), tcp(istioMetricsPort)],
      },
    ]);
  });

  it('is part of the layer, so deploy, prune and teardown handle the policies', () => {
    const kinds = renderDemo(options).filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata?.name);
    assert.deepEqual(kinds, policies.map((p) => p.metadata?.name));
  });
});

describe('the demo ↔ observability contract', () => {
  const monitoring = renderMonitoring(parseMonitoringOptions({}));
  const podsOf = (object: (KubernetesObject & { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } }) | undefined) => ({
    namespace: object?.metadata?.namespace,
    app: object?.spec?.template?.metadata?.labels?.app,
  });

  it('selects the Jaeger and Prometheus pods the monitoring layer renders', () => {
    assert.deepEqual(podsOf(monitoring.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'jaeger')), observabilityPods.jaeger);
    assert.deepEqual(podsOf(monitoring.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'prometheus')), observabilityPods.prometheus);
  });

  it('allows the OTLP ports the collector listens on and the services export to', () => {
    assert.deepEqual([...otlpPorts], [defaultJaegerPorts.otlpGrpc, defaultJaegerPorts.otlpHttp]);
    assert.ok(otlpPorts.some((port) => otlpEndpoint.endsWith(`:${port}`)), otlpEndpoint);
    assert.ok(otlpEndpoint.includes(`.${observabilityPods.jaeger.namespace}.svc`), otlpEndpoint);
  });
});
