/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; listed objects are read back as them */
// The k6 runner on the local control plane (real kube-apiserver with Pod Security admission, real
// Job controller and garbage collector; kwok nodes run no container). k6 itself cannot run here
// (no image, no kubelet), so this proves everything up to the pod: what is created, that the
// pod the Job controller makes passes Pod Security `restricted` with the right spec, and that the
// Job, its pod, the ConfigMap and the NetworkPolicy are deleted at the end, on failure and on abort.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { KubernetesObject, V1ConfigMap, V1Job, V1Pod } from '@kubernetes/client-node';
import { InterruptedError, UserError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { renderNamespace, renderService } from '../../demo/render.ts';
import { parseDemoOptions } from '../../demo/options.ts';
import { renderK6Objects, runK6Job } from '../../loadtest/runners/k6.ts';
import { k6Image, type K6Config } from '../../loadtest/runners/k6-config.ts';
import { smoke } from '../../loadtest/scenarios/smoke.ts';
import { localCluster, tracelab } from '../core/kube/local-cluster.ts';

const cluster = localCluster(1);
const namespace = 'tracelab-demo';
const demo = parseDemoOptions({ namespace, images: 'frontend=r.invalid/f:1,backend=r.invalid/b:1' });
const k6Label = 'app.kubernetes.io/name=k6';

async function create(kube: KubeClient, object: KubernetesObject): Promise<void> {
  await kube.request('POST', await kube.path({ apiVersion: object.apiVersion ?? '', kind: object.kind ?? '', namespace: object.metadata?.namespace }), { body: object });
}

/** What carries the k6 label in the namespace now, by kind. */
async function k6Objects(kube: KubeClient): Promise<Record<string, string[]>> {
  const names = async (apiVersion: string, kind: string): Promise<string[]> =>
    (await kube.list(apiVersion, kind, { namespace, labelSelector: k6Label })).items.filter((o) => o.metadata?.deletionTimestamp === undefined).map((o) => o.metadata?.name ?? '');
  return {
    Job: await names('batch/v1', 'Job'),
    ConfigMap: await names('v1', 'ConfigMap'),
    NetworkPolicy: await names('networking.k8s.io/v1', 'NetworkPolicy'),
    Pod: await names('v1', 'Pod'),
  };
}

const nothing = { Job: [], ConfigMap: [], NetworkPolicy: [], Pod: [] };

/** The garbage collector deletes the Job's pod after the Job: wait (bounded) until nothing is left. */
async function untilNothingLeft(kube: KubeClient): Promise<void> {
  const deadline = Date.now() + 30_000;
  let left = await k6Objects(kube);
  while (JSON.stringify(left) !== JSON.stringify(nothing) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    left = await k6Objects(kube);
  }
  assert.deepEqual(left, nothing);
}

describe('tracelab loadtest --runner k6 on the local control plane', () => {
  let prepared = false;
  const setup = async (kube: KubeClient): Promise<void> => {
    if (prepared) return;
    // The demo's namespace (Pod Security `restricted` enforced) and the Service k6 aims at.
    await create(kube, renderNamespace(demo));
    await create(kube, renderService('frontend', demo));
    prepared = true;
  };

  it('creates the ConfigMap, NetworkPolicy and Job; the pod passes Pod Security restricted with the pinned image and its limits; all deleted when k6 leaves no summary', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    await setup(c.kube);
    // Everything the run creates, as seen while it runs.
    const seen = new Map<string, KubernetesObject>();
    const owners = new Set<string>();
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        for (const [apiVersion, kind] of [['batch/v1', 'Job'], ['v1', 'ConfigMap'], ['networking.k8s.io/v1', 'NetworkPolicy'], ['v1', 'Pod']] as const) {
          for (const object of (await c.kube.list(apiVersion, kind, { namespace, labelSelector: k6Label })).items) {
            seen.set(kind, seen.get(kind) ?? object);
            for (const owner of object.metadata?.ownerReferences ?? []) owners.add(`${kind} owned by ${owner.kind} ${owner.name}`);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const run = await tracelab(c.cp, ['loadtest', 'smoke', '--sample-every', '1s']);
    watching.on = false;
    await watcher;
    t.diagnostic(run.stderr);
    // kwok's nodes serve no log: k6's summary line can never be read here.
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^k6: Job tracelab-demo\/k6-smoke-[0-9a-f]{6} created \(docker\.io\/grafana\/k6:2\.3\.0@sha256:[0-9a-f]{64}\)$/m);
    assert.match(run.stderr, /^✗ k6 printed no summary: /m);
    assert.match(run.stderr, /^k6: Job tracelab-demo\/k6-smoke-[0-9a-f]{6}, its pod, ConfigMap and NetworkPolicy deleted$/m);

    const configMap: V1ConfigMap | undefined = seen.get('ConfigMap');
    assert.ok(configMap !== undefined, 'a ConfigMap was created');
    assert.equal(configMap.data?.['script.ts'], readFileSync(new URL('../../loadtest/k6/script.ts', import.meta.url), 'utf8'));
    const config = JSON.parse(configMap.data['config.json'] ?? '{}') as K6Config;
    assert.equal(config.url, 'http://frontend.tracelab-demo.svc:8080/api/hello');
    assert.deepEqual(config.options.thresholds, { http_req_failed: ['rate<=0.01'], http_req_duration: ['p(95)<500', 'p(99)<1000'] });

    const policy = seen.get('NetworkPolicy') as { spec?: { podSelector: unknown; policyTypes: string[]; egress: unknown } } | undefined;
    assert.deepEqual(policy?.spec?.policyTypes, ['Egress']);
    assert.deepEqual(policy.spec.egress, [{ to: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);

    const job: V1Job | undefined = seen.get('Job');
    assert.equal(job?.spec?.backoffLimit, 0);
    // The Job's TTL takes the ConfigMap and NetworkPolicy with it should tracelab be killed.
    const jobName = job.metadata?.name ?? '';
    for (const kind of ['ConfigMap', 'NetworkPolicy']) assert.ok(owners.has(`${kind} owned by Job ${jobName}`), `${kind} owned by the Job (${[...owners].join('; ')})`);
    assert.ok((job.spec.activeDeadlineSeconds ?? 0) > 10);
    // The pod exists: the API server's Pod Security admission (restricted, enforced) let it in.
    const pod: V1Pod | undefined = seen.get('Pod');
    assert.ok(pod !== undefined, 'the Job controller made a pod: Pod Security restricted admitted it');
    assert.equal(pod.metadata?.labels?.['tracelab.dev/loadtest'], job.metadata?.name);
    const spec = pod.spec;
    assert.equal(spec?.restartPolicy, 'Never');
    assert.equal(spec.automountServiceAccountToken, false);
    assert.deepEqual(spec.securityContext, { runAsNonRoot: true, runAsUser: 12345, runAsGroup: 12345, seccompProfile: { type: 'RuntimeDefault' } });
    const [container] = spec.containers;
    assert.equal(container?.image, k6Image);
    assert.deepEqual(container.args, ['run', '--no-color', '/scripts/script.ts']);
    assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    for (const resource of ['cpu', 'memory', 'ephemeral-storage']) assert.ok(container.resources?.limits?.[resource] !== undefined, `a ${resource} limit`);
    assert.deepEqual(container.volumeMounts?.find((m) => m.name === 'script'), { name: 'script', mountPath: '/scripts', readOnly: true });
    assert.equal(spec.volumes?.find((v) => v.name === 'script')?.configMap?.name, configMap.metadata?.name);
    await untilNothingLeft(c.kube);
  });

  it('Ctrl-C (the signal aborted) mid-run: an interrupted run, and everything it created deleted', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    await setup(c.kube);
    const objects = renderK6Objects(smoke, { namespace, origin: 'http://frontend:8080', image: k6Image, suffix: 'abort1', frontend: { app: 'frontend', port: 8080 } });
    // Its pod stays Pending (no node matches), so the run is still waiting when Ctrl-C comes, however slow the checks below.
    const podSpec = objects.job.spec?.template.spec;
    if (podSpec !== undefined) podSpec.nodeSelector = { 'tracelab.dev/no-such-node': 'true' };
    const interrupt = new AbortController();
    const status: string[] = [];
    let seenWhileRunning: Record<string, string[]> | undefined;
    await assert.rejects(
      runK6Job(c.kube, objects, {
        signal: interrupt.signal,
        onLine: () => undefined,
        onStatus: (line) => {
          status.push(line);
          if (line.includes('created')) {
            // Ctrl-C as soon as the Job exists, after checking it does.
            void k6Objects(c.kube).then((found) => {
              seenWhileRunning = found;
              interrupt.abort();
            });
          }
        },
      }),
      (err: unknown) => err instanceof InterruptedError && /^stopped: k6 Job tracelab-demo\/k6-smoke-abort1 deleted/.test(err.message),
    );
    assert.deepEqual(seenWhileRunning?.Job, ['k6-smoke-abort1']);
    assert.deepEqual(seenWhileRunning.ConfigMap, ['k6-smoke-abort1']);
    assert.match(status.at(-1) ?? '', /deleted$/);
    await untilNothingLeft(c.kube);
  });

  it('a pod Pod Security would refuse: the Job controller cannot make it, and the run says why in one line, all deleted', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    await setup(c.kube);
    const objects = renderK6Objects(smoke, { namespace, origin: 'http://frontend:8080', image: k6Image, suffix: 'root01', frontend: { app: 'frontend', port: 8080 } });
    const podSpec = objects.job.spec?.template.spec;
    assert.ok(podSpec !== undefined);
    // What a careless k6 Job would do: run as root, privilege escalation allowed.
    podSpec.securityContext = {};
    const container = podSpec.containers[0];
    assert.ok(container !== undefined);
    container.securityContext = { allowPrivilegeEscalation: true };
    await assert.rejects(
      runK6Job(c.kube, objects, { signal: new AbortController().signal, onLine: () => undefined, onStatus: () => undefined, pollMs: 500 }),
      (err: unknown) => err instanceof UserError && /^the k6 Job tracelab-demo\/k6-smoke-root01 could not make its pod: .*violates PodSecurity "restricted:latest"/.test(err.message),
    );
    await untilNothingLeft(c.kube);
  });

  it('refuses a namespace without the demo in one line, exit 2, creating nothing', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    await setup(c.kube);
    const run = await tracelab(c.cp, ['loadtest', 'smoke', '--namespace', 'nowhere']);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^✗ namespace nowhere has no frontend Service: deploy the demo first \(npm run deploy:demo\), or pass the demo's --namespace$/m);
    assert.deepEqual(await k6Objects(c.kube), nothing);
  });

  it('--dry-run says what it would create and creates nothing', async (t) => {
    const c = await cluster(t);
    if (c === undefined) return;
    await setup(c.kube);
    const run = await tracelab(c.cp, ['--dry-run', 'loadtest', 'ramp']);
    assert.equal(run.status, 0, run.stderr);
    for (const kind of ['ConfigMap', 'NetworkPolicy', 'Job']) assert.match(run.stderr, new RegExp(`^ {2}would create ${kind} tracelab-demo/k6-ramp-dryrun$`, 'm'));
    assert.match(run.stderr, /^dry run: no load sent$/m);
    assert.deepEqual(await k6Objects(c.kube), nothing);
  });
});
