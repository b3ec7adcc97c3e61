import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDemoOptions } from '../../demo/options.ts';
import { renderDemoNetworkPolicies } from '../../demo/network-policies.ts';
import { meshedAnnotation, renderDemo, renderDeployment, renderEnv, renderHorizontalPodAutoscaler, renderNamespace, renderPodDisruptionBudget, renderService, servicePort } from '../../demo/render.ts';

const options = parseDemoOptions({ images: 'frontend=reg.local/frontend:v1,backend=reg.local/backend:v1' });

describe('renderDemo()', () => {
  it('renders the namespace, then per service its account, Service, Deployment, HPA and PDB, then the NetworkPolicies', () => {
    assert.deepEqual(
      renderDemo(options).map((o) => `${o.kind ?? ''}/${o.metadata?.name ?? ''}`),
      [
        'Namespace/tracelab-demo',
        ...['frontend', 'backend'].flatMap((s) => [`ServiceAccount/${s}`, `Service/${s}`, `Deployment/${s}`, `HorizontalPodAutoscaler/${s}`, `PodDisruptionBudget/${s}`]),
        ...renderDemoNetworkPolicies(options, servicePort).map((p) => `NetworkPolicy/${p.metadata?.name ?? ''}`),
      ],
    );
  });

  it('is pure: the same options give the same objects', () => {
    assert.deepEqual(renderDemo(options), renderDemo(options));
  });
});

describe('renderNamespace()', () => {
  it('enables sidecar injection and enforces Pod Security restricted', () => {
    const labels = renderNamespace(options).metadata?.labels ?? {};
    assert.equal(labels['istio-injection'], 'enabled');
    assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(labels['pod-security.kubernetes.io/warn'], 'restricted');
  });
});

describe('renderService()', () => {
  it('exposes a named http port', () => {
    const service = renderService('backend', options);
    assert.deepEqual(service.spec?.ports?.map((p) => [p.name, p.port]), [['http', 8080]]);
    assert.deepEqual(service.spec.selector, { app: 'backend' });
  });
});

describe('renderDeployment()', () => {
  for (const service of ['frontend', 'backend'] as const) {
    const deployment = renderDeployment(service, options);
    const pod = deployment.spec?.template.spec ?? assert.fail('no pod spec');
    const container = pod.containers[0] ?? assert.fail('no container');

    it(`runs ${service} as a container named server from the given image`, () => {
      assert.equal(pod.containers.length, 1);
      assert.equal(container.name, 'server');
      assert.equal(container.image, `reg.local/${service}:v1`);
    });

    it(`hardens ${service} for Pod Security restricted`, () => {
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      assert.equal(pod.securityContext.runAsUser, 10001);
      assert.equal(pod.securityContext.seccompProfile?.type, 'RuntimeDefault');
      assert.equal(pod.automountServiceAccountToken, false);
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext.capabilities?.drop, ['ALL']);
      assert.deepEqual(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    });

    it(`gives ${service} requests, limits, probes, a preStop drain and topology spread`, () => {
      assert.deepEqual(container.resources, {
        requests: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '64Mi' },
        limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '256Mi' },
      });
      const tmp = pod.volumes?.find((volume) => volume.name === 'tmp')?.emptyDir?.sizeLimit;
      assert.equal(tmp, '64Mi', 'the ephemeral-storage limit leaves room for /tmp and the rotated logs');
      assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
      assert.equal(container.livenessProbe?.httpGet?.path, '/healthz');
      assert.deepEqual(container.lifecycle?.preStop, { sleep: { seconds: 5 } });
      assert.equal(pod.topologySpreadConstraints?.[0]?.topologyKey, 'kubernetes.io/hostname');
      assert.equal(pod.topologySpreadConstraints[0].whenUnsatisfiable, 'ScheduleAnyway');
      assert.equal(deployment.spec?.template.metadata?.annotations?.['prometheus.io/scrape'], 'true');
    });

    it(`leaves ${service}'s replica count to the HPA after creation and says so to kube-score`, () => {
      assert.equal(deployment.spec?.replicas, 2, 'the count at creation; the engine sends the live one afterwards');
      assert.deepEqual(deployment.metadata?.annotations?.['kube-score/ignore']?.split(','), ['container-image-pull-policy', 'deployment-targeted-by-hpa-does-not-have-replicas-configured']);
      assert.equal(deployment.spec.template.metadata?.annotations?.['kube-score/ignore'], undefined, 'on the Deployment, so that no pod rolls for it');
    });
  }
});

describe('renderDeployment() with a pull secret', () => {
  it('pulls both images with it; without one, the pods name none', () => {
    const withSecret = parseDemoOptions({ images: 'frontend=reg.example.com/t/frontend:v1,backend=reg.example.com/t/backend:v1', 'pull-secret': 'creds' });
    for (const service of ['frontend', 'backend'] as const) {
      assert.deepEqual(renderDeployment(service, withSecret).spec?.template.spec?.imagePullSecrets, [{ name: 'creds' }]);
      assert.equal(renderDeployment(service, options).spec?.template.spec?.imagePullSecrets, undefined);
    }
  });
});

describe('renderEnv()', () => {
  it('points OpenTelemetry at the in-cluster Jaeger collector and passes the downward API', () => {
    const env = Object.fromEntries(renderEnv('frontend', options).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger-collector.jaeger.svc.cluster.local:4318');
    assert.equal(env.OTEL_SERVICE_NAME, 'frontend');
    assert.equal(env.OTEL_PROPAGATORS, 'tracecontext,baggage');
    assert.equal(env.POD_NAME, 'metadata.name');
    assert.equal(env.POD_NAMESPACE, 'metadata.namespace');
    assert.equal(env.NODE_NAME, 'spec.nodeName');
    assert.equal(env.BACKEND_URL, 'http://backend:8080');
    assert.equal(env.PORT, '8080');
  });

  it('sets backend knobs only when given', () => {
    assert.equal(renderEnv('backend', options).find((e) => e.name === 'BACKEND_LATENCY_MS'), undefined);
    const tuned = parseDemoOptions({ images: 'frontend=a/b:1,backend=a/c:1', 'backend-latency-ms': '40' });
    assert.deepEqual(renderEnv('backend', tuned).find((e) => e.name === 'BACKEND_LATENCY_MS'), { name: 'BACKEND_LATENCY_MS', value: '40' });
  });
});

describe('renderHorizontalPodAutoscaler() and renderPodDisruptionBudget()', () => {
  it('scales on CPU from the replica count up, and allows one pod down at a time', () => {
    const hpa = renderHorizontalPodAutoscaler('backend', options);
    assert.equal(hpa.spec.minReplicas, 2);
    assert.equal(hpa.spec.maxReplicas, 5);
    assert.equal(hpa.spec.metrics?.[0]?.resource?.target.averageUtilization, 70);
    assert.equal(renderPodDisruptionBudget('backend', options).spec?.maxUnavailable, 1);
  });
});

describe('the demo in the mesh', () => {
  it('marks the pods while the mesh is installed, so that its arrival and removal roll them', () => {
    const annotations = (meshed: boolean): Record<string, string> => renderDeployment('backend', { ...options, meshed }).spec?.template.metadata?.annotations ?? {};
    assert.equal(annotations(true)[meshedAnnotation], 'true');
    assert.equal(meshedAnnotation in annotations(false), false);
  });
});
