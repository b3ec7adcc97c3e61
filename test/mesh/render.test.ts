import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesObject, V1Container, V1DaemonSet, V1Deployment, V1Namespace, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { writeRendered } from '../../core/kube/render.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { parseVersions, versionsFile } from '../../bootstrap/versions.ts';
import { demoLayer } from '../../demo/layer.ts';
import { faultAnnotation } from '../../mesh/faults.ts';
import { istioHub, istioImages, istioRelease } from '../../mesh/istio-operator.ts';
import { meshLayer, renderMesh } from '../../mesh/layer.ts';
import { meshNamespaces } from '../../mesh/names.ts';
import { parseMeshOptions, type MeshOptions } from '../../mesh/options.ts';
import { istiodResources, sidecarResources } from '../../mesh/resources.ts';
import { componentPath, isBuilt, requireComponent } from '../../testenv/components.ts';

type IstioObject = KubernetesObject & { spec: Record<string, unknown> };

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it reads
const find = <T extends KubernetesObject>(objects: readonly KubernetesObject[], kind: string, name: string): T => {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  assert.ok(found !== undefined, `${kind} ${name} rendered`);
  return found as T;
};

function podSpecs(objects: readonly KubernetesObject[]): { name: string; namespace: string; spec: V1PodSpec }[] {
  return objects
    .filter((object): object is V1Deployment | V1DaemonSet => object.kind === 'Deployment' || object.kind === 'DaemonSet')
    .map((workload) => ({ name: workload.metadata?.name ?? '', namespace: workload.metadata?.namespace ?? '', spec: workload.spec?.template.spec as V1PodSpec }));
}

describe('the mesh layer rendered from the pinned istioctl', () => {
  let prepared: MeshOptions | undefined;
  let objects: KubernetesObject[] = [];

  before(async () => {
    if (!isBuilt('istioctl')) return;
    prepared = await meshLayer.prepare?.(parseMeshOptions({ istioctl: componentPath('istioctl') }), { componentCache: undefined, searchPath: '', output: createRecordingOutput() });
    objects = prepared === undefined ? [] : renderMesh(prepared);
  });

  it('pins the release the versions file builds, images and all', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const pins = parseVersions(readFileSync(versionsFile, 'utf8'));
    assert.equal(pins.ISTIO_RELEASE, istioRelease);
    assert.equal(pins.ISTIO_HUB, istioHub);
    const images = new Set(podSpecs(objects).flatMap(({ spec }) => spec.containers.map((container) => container.image)));
    assert.deepEqual([...images].sort(), [istioImages.installCni, istioImages.pilot, istioImages.proxy].sort());
  });

  it('puts istiod and the gateway in a restricted namespace and the CNI agent in its own privileged one', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const enforce = (name: string): string | undefined => find<V1Namespace>(objects, 'Namespace', name).metadata?.labels?.['pod-security.kubernetes.io/enforce'];
    assert.equal(enforce(meshNamespaces.root), 'restricted');
    assert.equal(enforce(meshNamespaces.cni), 'privileged');
    const placed = podSpecs(objects).map(({ name, namespace }) => `${namespace}/${name}`).sort();
    assert.deepEqual(placed, [`${meshNamespaces.cni}/istio-cni-node`, `${meshNamespaces.root}/istio-ingressgateway`, `${meshNamespaces.root}/istiod`]);
  });

  it('gives the pods of the restricted namespace what Pod Security restricted asks', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    for (const { name, namespace, spec } of podSpecs(objects).filter((pod) => pod.namespace === meshNamespaces.root)) {
      assert.equal(spec.securityContext?.runAsNonRoot, true, `${name} runs as non-root`);
      assert.equal(spec.securityContext.seccompProfile?.type, 'RuntimeDefault', `${namespace}/${name} seccomp`);
      for (const container of spec.containers) {
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${name}/${container.name}`);
        assert.deepEqual(container.securityContext.capabilities?.drop, ['ALL'], `${name}/${container.name}`);
        assert.equal(container.securityContext.readOnlyRootFilesystem, true, `${name}/${container.name}`);
      }
    }
  });

  it('bounds every container, istiod and the sidecars at the sizes the footprint counts', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    for (const { name, spec } of podSpecs(objects)) {
      for (const container of spec.containers) assert.ok(container.resources?.requests !== undefined && container.resources.limits !== undefined, `${name}/${container.name} has requests and limits`);
    }
    const istiod = podSpecs(objects).find((pod) => pod.name === 'istiod')?.spec.containers[0] as V1Container;
    assert.deepEqual(
      { requests: { cpu: istiod.resources?.requests?.cpu, memory: istiod.resources?.requests?.memory }, limits: { cpu: istiod.resources?.limits?.cpu, memory: istiod.resources?.limits?.memory } },
      istiodResources,
    );
    for (const { name, spec } of podSpecs(objects)) {
      for (const container of spec.containers) assert.ok(container.resources?.limits?.['ephemeral-storage'] !== undefined, `${name}/${container.name} bounds its local disk`);
    }
    // The injector's values carry the sidecar's size.
    const values = JSON.parse((find<KubernetesObject & { data: Record<string, string> }>(objects, 'ConfigMap', 'values').data['merged-values'] ?? '{}')) as { global: { proxy: { resources: unknown } } };
    assert.deepEqual(values.global.proxy.resources, sidecarResources);
  });

  it('leaves no Helm bookkeeping nor null fields in what it applies', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const text = JSON.stringify(objects);
    for (const leftover of ['"helm.sh/chart"', '"app.kubernetes.io/managed-by":"Helm"', ':null,', ':null}', '"app.kubernetes.io/version":"1.0.0"']) {
      const at = text.indexOf(leftover);
      assert.equal(at, -1, `${leftover} in …${text.slice(Math.max(0, at - 200), at + 50)}`);
    }
  });

  it('validates every Istio resource, labelled with a revision or not, and injects through istio-cni (no privileged init container)', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const validator = find<KubernetesObject & { webhooks: { objectSelector?: unknown; rules: { apiGroups: string[] }[] }[] }>(objects, 'ValidatingWebhookConfiguration', 'istiod-default-validator');
    assert.equal(validator.webhooks[0]?.objectSelector, undefined);
    assert.ok(validator.webhooks[0]?.rules[0]?.apiGroups.includes('networking.istio.io'));
    const values = JSON.parse((find<KubernetesObject & { data: Record<string, string> }>(objects, 'ConfigMap', 'values').data['merged-values'] ?? '{}')) as { pilot: { cni: { enabled: boolean } } };
    assert.equal(values.pilot.cni.enabled, true);
  });

  it('sends the proxies\' spans to Jaeger over OTLP/gRPC and samples as told', (t) => {
    if (requireComponent(t, 'istioctl') === undefined || prepared === undefined) return;
    const mesh = find<KubernetesObject & { data: Record<string, string> }>(objects, 'ConfigMap', 'istio').data.mesh ?? '';
    assert.match(mesh, /enableTracing: true/);
    assert.match(mesh, /- name: jaeger\n\s+opentelemetry:\n\s+port: 4317\n\s+service: jaeger-collector\.jaeger\.svc\.cluster\.local/);
    const telemetry = find<IstioObject>(objects, 'Telemetry', 'mesh-default');
    assert.deepEqual(telemetry.spec, { tracing: [{ providers: [{ name: 'jaeger' }], randomSamplingPercentage: 100 }] });
    const sampled = find<IstioObject>(renderMesh({ ...prepared, sampling: 5 }), 'Telemetry', 'mesh-default');
    assert.deepEqual((sampled.spec.tracing as { randomSamplingPercentage: number }[])[0]?.randomSamplingPercentage, 5);
  });

  it('requires mutual TLS mesh-wide and lets only frontend call backend and only the gateway call frontend', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    assert.deepEqual(find<IstioObject>(objects, 'PeerAuthentication', 'default').spec, { mtls: { mode: 'STRICT' } });
    const principals = (name: string): unknown => (find<IstioObject>(objects, 'AuthorizationPolicy', name).spec.rules as { from: { source: { principals: string[] } }[] }[])[0]?.from[0]?.source.principals;
    assert.deepEqual(principals('backend-from-frontend'), ['cluster.local/ns/tracelab-demo/sa/frontend']);
    assert.deepEqual(principals('frontend-from-ingress'), ['cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account']);
    const selector = find<IstioObject>(objects, 'AuthorizationPolicy', 'backend-from-frontend').spec.selector;
    assert.deepEqual(selector, { matchLabels: { app: 'backend', 'app.kubernetes.io/part-of': 'tracelab-demo' } });
  });

  it('opens the gateway on the NodePort given, routing to frontend', (t) => {
    if (requireComponent(t, 'istioctl') === undefined) return;
    const service = find<V1Service>(objects, 'Service', 'istio-ingressgateway');
    assert.equal(service.spec?.type, 'NodePort');
    assert.deepEqual(service.spec.ports?.map((port) => [port.nodePort, port.targetPort]), [[30080, 8080]]);
    const route = find<IstioObject>(objects, 'VirtualService', 'frontend-ingress').spec;
    assert.deepEqual(route.gateways, ['istio-system/frontend']);
    assert.match(JSON.stringify(route.http), /"host":"frontend\.tracelab-demo\.svc\.cluster\.local"/);
  });

  it('injects each fault preset into backend\'s route, and none when off', (t) => {
    if (requireComponent(t, 'istioctl') === undefined || prepared === undefined) return;
    const backendRoute = (fault: MeshOptions['fault']): { fault?: unknown; timeout: string; annotation: string | undefined } => {
      const vs = find<IstioObject>(renderMesh({ ...prepared, fault } as MeshOptions), 'VirtualService', 'backend');
      return { ...(vs.spec.http as { fault?: unknown; timeout: string }[])[0] as { fault?: unknown; timeout: string }, annotation: vs.metadata?.annotations?.[faultAnnotation] };
    };
    assert.equal(backendRoute(undefined).fault, undefined);
    assert.equal(backendRoute(undefined).annotation, 'off');
    assert.deepEqual(backendRoute('backend-delay').fault, { delay: { percentage: { value: 50 }, fixedDelay: '2s' } });
    assert.deepEqual(backendRoute('backend-abort').fault, { abort: { percentage: { value: 30 }, httpStatus: 503 } });
    assert.equal(backendRoute('backend-abort').annotation, 'backend-abort');
  });

  it('installs Kiali only when asked: anonymous, view-only, restricted, bounded, reading the lab\'s Prometheus and Jaeger', (t) => {
    if (requireComponent(t, 'istioctl') === undefined || prepared === undefined) return;
    assert.equal(objects.some((object) => object.metadata?.name === 'kiali'), false, 'off by default');
    const withKiali = renderMesh({ ...prepared, kiali: true });
    const deployment = find<V1Deployment>(withKiali, 'Deployment', 'kiali');
    const pod = deployment.spec?.template.spec as V1PodSpec;
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    const [kialiContainer] = pod.containers;
    const limits = kialiContainer.resources?.limits ?? {};
    assert.deepEqual(Object.keys(limits).sort(), ['cpu', 'ephemeral-storage', 'memory']);
    assert.equal(deployment.spec?.template.metadata?.labels?.['sidecar.istio.io/inject'], 'false');
    const config = find<KubernetesObject & { data: Record<string, string> }>(withKiali, 'ConfigMap', 'kiali').data['config.yaml'] ?? '';
    assert.match(config, /strategy: anonymous/);
    assert.match(config, /view_only_mode: true/);
    assert.match(config, /url: http:\/\/prometheus\.monitoring:9090/);
    assert.match(config, /internal_url: http:\/\/jaeger-query\.jaeger:16686/);
    const role = find<KubernetesObject & { rules: { verbs: string[] }[] }>(withKiali, 'ClusterRole', 'tracelab-kiali-viewer');
    assert.deepEqual([...new Set(role.rules.flatMap((rule) => rule.verbs))].sort(), ['get', 'list', 'watch']);
    assert.equal(find<V1Service>(withKiali, 'Service', 'kiali').spec?.ports?.[0]?.port, 20001, 'where `npm run ui` looks for it');
  });

  it('is pure and leaves the generated manifests as they were', (t) => {
    if (requireComponent(t, 'istioctl') === undefined || prepared === undefined) return;
    const before = JSON.stringify(prepared.istio);
    assert.deepEqual(renderMesh(prepared), renderMesh(prepared));
    assert.equal(JSON.stringify(prepared.istio), before);
  });

  it('passes `istioctl analyze` with the demo, written as files kubectl and istioctl read alike', async (t) => {
    const istioctl = requireComponent(t, 'istioctl');
    if (istioctl === undefined || prepared === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'tracelab-mesh-analyze-'));
    try {
      const files = [
        ...(await writeRendered('mesh', objects, join(dir, 'mesh'))),
        ...(await writeRendered('demo', demoLayer.render(demoLayer.parseOptions({ images: 'frontend=reg.local/frontend:v1,backend=reg.local/backend:v1' })), join(dir, 'demo'))),
      ];
      // YAML 1.1 readers take an unquoted `off` for false: the fault annotation must stay a string.
      assert.match(readFileSync(files.find((file) => file.endsWith('virtualservice-istio-system-backend.yaml')) ?? '', 'utf8'), /tracelab\.dev\/fault: "off"/);
      const analyzed = spawnSync(istioctl, ['analyze', '--use-kube=false', '--all-namespaces', '--failure-threshold', 'Warning', ...files], { encoding: 'utf8' });
      t.diagnostic(analyzed.stdout.trim().split('\n').filter((line) => !line.startsWith('  - ')).join(' | '));
      assert.equal(analyzed.status, 0, `${analyzed.stdout}\n${analyzed.stderr}`);
      assert.doesNotMatch(analyzed.stdout + analyzed.stderr, /Error|could not be parsed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
