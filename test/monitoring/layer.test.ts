/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubernetesObject, V1ConfigMap, V1DaemonSet, V1Deployment, V1Namespace, V1PodSpec, V1Secret, V1Service } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.ts';
import { parseMemory } from '../../core/footprint.ts';
import { images } from '../../monitoring/common.ts';
import { dashboardNames } from '../../monitoring/grafana-dashboards.ts';
import { monitoringLayer, parseMonitoringOptions, parsePrometheusDuration, parsePrometheusSize, type MonitoringRawOptions } from '../../monitoring/layer.ts';

const render = (raw: MonitoringRawOptions = {}): KubernetesObject[] => monitoringLayer.render(parseMonitoringOptions(raw));
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the kind it expects
const find = <T extends KubernetesObject>(objects: KubernetesObject[], kind: string, name: string): T => {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  assert.ok(found, `${kind} ${name} is rendered`);
  return found as T;
};
const podSpecs = (objects: KubernetesObject[]): { name: string; spec: V1PodSpec }[] =>
  objects
    .filter((object) => object.kind === 'Deployment' || object.kind === 'DaemonSet')
    .map((object) => ({ name: object.metadata?.name ?? '', spec: (object as V1Deployment).spec?.template.spec as V1PodSpec }));

describe('parseMonitoringOptions()', () => {
  it('has lab defaults: 24h / 1GB retention, 20000 traces, every dashboard, every node, insecure kubelet TLS', () => {
    const options = parseMonitoringOptions({});
    assert.equal(options.retentionTime, '24h');
    assert.equal(options.retentionSizeBytes, 2 ** 30);
    assert.equal(options.maxTraces, 20000);
    assert.deepEqual(options.dashboards, [...dashboardNames]);
    assert.deepEqual(options.nodeSelector, {});
    assert.equal(options.kubeletTls, 'insecure');
    assert.equal(options.metricsServer, true);
    assert.equal(options.grafana, true);
  });

  it('leaves Grafana out with --grafana false, and rejects a value that is not a boolean', () => {
    const objects = monitoringLayer.render(parseMonitoringOptions({ grafana: 'false' }));
    assert.deepEqual(objects.filter((o) => /grafana/.test(o.metadata?.name ?? '')).map((o) => `${o.kind ?? ''} ${o.metadata?.name ?? ''}`), []);
    assert.ok(objects.some((o) => o.kind === 'Deployment' && o.metadata?.name === 'prometheus'));
    assert.throws(() => parseMonitoringOptions({ grafana: 'no' }), (err: unknown) => err instanceof UserError && /^--grafana 'no' is not true or false/.test(err.message));
  });

  it('selects node-exporter nodes by profile and labels', () => {
    const options = parseMonitoringOptions({ 'node-profile': 'worker', 'node-selector': 'kubernetes.io/os=linux' });
    assert.deepEqual(options.nodeSelector, { 'tracelab.dev/profile': 'worker', 'kubernetes.io/os': 'linux' });
  });

  const bad: [MonitoringRawOptions, RegExp][] = [
    [{ retention: '-1d' }, /^--retention '-1d' is not a positive Prometheus duration: pass e\.g\./],
    [{ retention: '0s' }, /--retention '0s' is not a positive/],
    [{ retention: '2h' }, /shorter than the 6h window/],
    [{ 'retention-size': '1Gi' }, /--retention-size '1Gi' is not a size between 64MB and 64GB/],
    [{ 'retention-size': '1MB' }, /--retention-size '1MB'/],
    [{ 'scrape-interval': '1s' }, /--scrape-interval '1s' is not a duration between 5s and 5m/],
    [{ 'max-traces': '-5' }, /--max-traces '-5' is not a whole number between 100 and 30000/],
    [{ 'max-traces': '1e9' }, /--max-traces '1e9'/],
    [{ 'max-traces': '50000' }, /--max-traces '50000'/],
    [{ dashboards: 'nosuch' }, /^--dashboards: unknown dashboard 'nosuch': choose from services, mesh, nodes, autoscaling/],
    [{ dashboards: 'services,nodez' }, /unknown dashboard 'nodez'/],
    [{ 'node-profile': 'has space' }, /--node-profile 'has space' is not a valid label value/],
    [{ 'node-selector': 'novalue' }, /--node-selector 'novalue' is not a label=value pair/],
    [{ 'kubelet-tls': 'maybe' }, /--kubelet-tls 'maybe' is neither 'insecure' nor 'verified'/],
    [{ 'metrics-server': 'yes' }, /--metrics-server 'yes' is not true or false/],
    [{ retension: '2d' } as MonitoringRawOptions, /unknown option --retension for the monitoring layer/],
  ];
  for (const [raw, message] of bad) {
    it(`rejects ${JSON.stringify(raw)} with one line naming the value and the fix`, () => {
      assert.throws(
        () => parseMonitoringOptions(raw),
        (err: unknown) => err instanceof UserError && err.exitCode === 2 && message.test(err.message) && !err.message.includes('\n'),
      );
    });
  }
});

describe('parsePrometheusDuration() / parsePrometheusSize()', () => {
  it('reads Prometheus units', () => {
    assert.equal(parsePrometheusDuration('1h30m'), 5_400_000);
    assert.equal(parsePrometheusDuration('2d'), 172_800_000);
    assert.equal(parsePrometheusDuration('500ms'), 500);
    assert.equal(parsePrometheusDuration('-1d'), undefined);
    assert.equal(parsePrometheusDuration('1.5h'), undefined);
    assert.equal(parsePrometheusSize('512MB'), 512 * 2 ** 20);
    assert.equal(parsePrometheusSize('1Gi'), undefined);
  });
});

describe('renderMonitoring()', () => {
  it('is pure: the same options give the same objects', () => {
    assert.deepEqual(render(), render());
  });

  it('keeps the shared namespace and Service contracts', () => {
    const objects = render();
    const collector = find<V1Service>(objects, 'Service', 'jaeger-collector');
    assert.equal(collector.metadata?.namespace, 'jaeger');
    assert.deepEqual(collector.spec?.ports?.map((port) => [port.name, port.port]), [['otlp-grpc', 4317], ['otlp-http', 4318]]);
    const query = find<V1Service>(objects, 'Service', 'jaeger-query');
    assert.deepEqual(query.spec?.ports?.find((port) => port.name === 'http-query')?.port, 16686);
    for (const name of ['prometheus', 'grafana', 'node-exporter']) assert.equal(find(objects, 'Service', name).metadata?.namespace, 'monitoring');
    assert.equal(find(objects, 'Deployment', 'metrics-server').metadata?.namespace, 'kube-system');
  });

  it('gives every container requests and limits, and pins every image by exact tag', () => {
    for (const { name, spec } of podSpecs(render())) {
      for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
        for (const kind of ['requests', 'limits'] as const) {
          assert.ok(container.resources?.[kind]?.cpu, `${name}/${container.name} has a CPU ${kind}`);
          assert.ok(container.resources[kind].memory, `${name}/${container.name} has a memory ${kind}`);
          assert.ok(container.resources[kind]['ephemeral-storage'], `${name}/${container.name} has an ephemeral-storage ${kind}`);
        }
        // The kubelet counts disk-backed emptyDirs against the containers' limits: each limit must hold them and the logs.
        const emptyDirs = (spec.volumes ?? []).reduce((sum, volume) => sum + parseMemory(volume.emptyDir?.sizeLimit ?? '0'), 0);
        assert.ok(parseMemory(container.resources?.limits?.['ephemeral-storage'] ?? '0') >= emptyDirs + 50 * 2 ** 20, `${name}: ephemeral-storage limit above its emptyDirs plus 50Mi of logs`);
        assert.ok((Object.values(images) as string[]).includes(container.image ?? ''), `${name} uses a pinned image`);
        assert.match(container.image ?? '', /:v?\d+\.\d+\.\d+$/);
      }
    }
  });

  it('meets Pod Security "restricted" in every container, node-exporter only adding the host access it needs', () => {
    for (const { name, spec } of podSpecs(render())) {
      assert.equal(spec.securityContext?.runAsNonRoot, true, `${name} runs as non-root`);
      assert.equal(spec.securityContext.seccompProfile?.type, 'RuntimeDefault');
      for (const container of spec.containers) {
        const security = container.securityContext;
        assert.equal(security?.allowPrivilegeEscalation, false, `${name}: no privilege escalation`);
        assert.equal(security.readOnlyRootFilesystem, true, `${name}: read-only root filesystem`);
        assert.deepEqual(security.capabilities?.drop, ['ALL'], `${name}: drops ALL capabilities`);
        assert.equal(security.privileged, undefined);
      }
      const hostAccess = spec.hostNetwork === true || spec.hostPID === true || (spec.volumes ?? []).some((volume) => volume.hostPath !== undefined);
      assert.equal(hostAccess, name === 'node-exporter', `${name}: host access only for node-exporter`);
    }
    const monitoring = find<V1Namespace>(render(), 'Namespace', 'monitoring');
    assert.equal(monitoring.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    assert.equal(monitoring.metadata.labels['pod-security.kubernetes.io/audit'], 'restricted');
    assert.equal(find<V1Namespace>(render(), 'Namespace', 'jaeger').metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('puts the bounded Jaeger config in a ConfigMap the Deployment mounts', () => {
    const objects = render({ 'max-traces': '5000' });
    const config = find<V1ConfigMap>(objects, 'ConfigMap', 'jaeger-config');
    assert.match(config.data?.['config.yaml'] ?? '', /max_traces: 5000/);
    assert.match(config.data?.['config.yaml'] ?? '', /^# Generated by tracelab monitoring\/jaeger\.ts/);
    const deployment = find<V1Deployment>(objects, 'Deployment', 'jaeger');
    assert.deepEqual(deployment.spec?.template.spec?.containers[0]?.args, ['--config', '/etc/jaeger/config.yaml']);
    assert.ok(deployment.spec.template.metadata?.annotations?.['tracelab.dev/config-hash']);
  });

  it('writes retention into the Prometheus config and sizes the TSDB volume above it', () => {
    const objects = render({ retention: '2d', 'retention-size': '512MB' });
    const config = find<V1ConfigMap>(objects, 'ConfigMap', 'prometheus-config').data?.['prometheus.yml'] ?? '';
    assert.match(config, /retention:\n\s+time: 2d\n\s+size: 512MB/);
    const pod = find<V1Deployment>(objects, 'Deployment', 'prometheus').spec?.template.spec;
    assert.equal(pod?.volumes?.find((v) => v.name === 'data')?.emptyDir?.sizeLimit, '1024Mi');
    const resources = pod.containers[0]?.resources;
    assert.equal(resources?.requests?.['ephemeral-storage'], '1024Mi', 'the scheduler places it where the TSDB fits');
    assert.equal(resources.limits?.['ephemeral-storage'], '1280Mi', 'the TSDB volume plus room for logs');
  });

  it('probes liveness and readiness differently wherever both are set', () => {
    for (const { name, spec } of podSpecs(render())) {
      for (const container of spec.containers) {
        const { livenessProbe: live, readinessProbe: ready } = container;
        assert.ok(live && ready, `${name} has both probes`);
        assert.notDeepEqual(JSON.stringify([live.httpGet, live.tcpSocket]), JSON.stringify([ready.httpGet, ready.tcpSocket]), `${name}: a liveness probe that is not the readiness one`);
      }
    }
    const grafana = find<V1Deployment>(render(), 'Deployment', 'grafana').spec?.template.spec?.containers[0];
    assert.equal(grafana?.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(grafana.readinessProbe?.httpGet?.path, '/api/health');
  });

  it('runs metrics-server as the user its image declares, and skips only justified kube-score checks', () => {
    const objects = render();
    assert.equal(find<V1Deployment>(objects, 'Deployment', 'metrics-server').spec?.template.spec?.securityContext?.runAsUser, 65534);
    const ignores = objects
      .filter((object) => object.metadata?.annotations?.['kube-score/ignore'] !== undefined)
      .map((object) => `${object.kind ?? ''}/${object.metadata?.name ?? ''}: ${object.metadata?.annotations?.['kube-score/ignore'] ?? ''}`);
    assert.deepEqual(ignores, [
      'Deployment/jaeger: container-image-pull-policy',
      'Deployment/prometheus: container-image-pull-policy',
      'Deployment/grafana: container-image-pull-policy,container-security-context-user-group-id',
      'DaemonSet/node-exporter: container-image-pull-policy',
      'Deployment/metrics-server: container-image-pull-policy',
    ]);
  });

  it('provisions only the chosen dashboards', () => {
    const dashboards = find<V1ConfigMap>(render({ dashboards: 'services,nodes' }), 'ConfigMap', 'grafana-dashboards');
    assert.deepEqual(Object.keys(dashboards.data ?? {}), ['services.json', 'nodes.json']);
  });

  it('renders the Grafana admin Secret without data, so a re-apply never rotates the generated password', () => {
    const secret = find<V1Secret>(render(), 'Secret', 'grafana-admin');
    assert.equal(secret.data, undefined);
    assert.equal(secret.stringData, undefined);
    const env = find<V1Deployment>(render(), 'Deployment', 'grafana').spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === 'GF_SECURITY_ADMIN_PASSWORD')?.valueFrom?.secretKeyRef?.name, 'grafana-admin');
    assert.equal(env.find((e) => e.name === 'GF_AUTH_ANONYMOUS_ENABLED')?.value, 'false');
  });

  it('selects node-exporter nodes from the inventory profile and tolerates every taint', () => {
    const daemonSet = find<V1DaemonSet>(render({ 'node-profile': 'worker' }), 'DaemonSet', 'node-exporter');
    assert.deepEqual(daemonSet.spec?.template.spec?.nodeSelector, { 'tracelab.dev/profile': 'worker' });
    assert.deepEqual(daemonSet.spec.template.spec.tolerations, [{ operator: 'Exists' }]);
    assert.equal(find<V1DaemonSet>(render(), 'DaemonSet', 'node-exporter').spec?.template.spec?.nodeSelector, undefined);
  });

  it('runs metrics-server with --kubelet-insecure-tls only in insecure mode, and not at all when asked', () => {
    const args = (raw: MonitoringRawOptions) => find<V1Deployment>(render(raw), 'Deployment', 'metrics-server').spec?.template.spec?.containers[0]?.args ?? [];
    assert.ok(args({}).includes('--kubelet-insecure-tls'));
    assert.ok(!args({ 'kubelet-tls': 'verified' }).includes('--kubelet-insecure-tls'));
    assert.ok(!render({ 'metrics-server': 'false' }).some((object) => object.metadata?.name === 'metrics-server'));
  });
});
