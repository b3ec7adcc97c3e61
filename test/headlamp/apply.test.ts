// Integration on the local control plane (real kube-apiserver, controllers, kwok nodes): the
// headlamp layer applies, re-applies with nothing changed and tears down; the TokenRequest token
// of headlamp-viewer is accepted by the API server with exactly the documented rights, and stops
// working once the layer is gone. (Headlamp's own pod runs no container on kwok: the image cannot be
// pulled here.)
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createKube, type KubeClient } from '../../core/kube/client.ts';
import { upLayer } from '../../core/kube/commands.ts';
import { count } from '../../core/kube/report.ts';
import { teardownLayer } from '../../core/kube/teardown.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { headlampLayer } from '../../headlamp/layer.ts';
import { renderHeadlamp } from '../../headlamp/render.ts';
import { parseHeadlampOptions } from '../../headlamp/options.ts';
import { requestViewerToken } from '../../headlamp/token.ts';
import type { ControlPlane } from '../../testenv/controlplane.ts';
import { localCluster } from '../core/kube/local-cluster.ts';

const cluster = localCluster(1);
const work = mkdtempSync(join(tmpdir(), 'tracelab-headlamp-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A client that authenticates with the token alone (no client certificate), as Headlamp's sign-in does. */
function clientWithToken(cp: ControlPlane, token: string, name: string): KubeClient {
  const admin = cp.kubeConfig();
  const server = admin.getCurrentCluster();
  assert.ok(server !== null);
  const config = new KubeConfig();
  config.loadFromOptions({ clusters: [server], users: [{ name: 'viewer', token }], contexts: [{ name: 'viewer', cluster: server.name, user: 'viewer' }], currentContext: 'viewer' });
  const file = join(work, name);
  writeFileSync(file, config.exportConfig());
  return createKube({ kubeconfig: file, retry: { attempts: 1, maxElapsedMs: 5_000, baseDelayMs: 100, maxDelayMs: 100 } });
}

interface AccessReview {
  status?: { allowed?: boolean };
}

async function can(kube: KubeClient, verb: string, resource: string, namespace?: string, group = ''): Promise<boolean> {
  const review = await kube.request<AccessReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb, resource, group, ...(namespace === undefined ? {} : { namespace }) } } },
  });
  return review.status?.allowed === true;
}

describe('the headlamp layer on the local control plane', () => {
  const globals = (cp: ControlPlane) => ({ kubeconfig: cp.kubeconfig, context: undefined, dryRun: false, output: createRecordingOutput(), signal: new AbortController().signal });
  const viewers: KubeClient[] = [];
  after(async () => {
    for (const viewer of viewers) await viewer.close();
  });
  let token = '';

  it('applies every object under strict validation and rolls out; a re-apply changes nothing', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const rendered = renderHeadlamp(parseHeadlampOptions({}));
    const first = await upLayer(globals(found.cp), headlampLayer, {}, { timeout: '2m', wait: true });
    assert.equal(count(first, 'created'), rendered.length);
    const again = await upLayer(globals(found.cp), headlampLayer, {}, { timeout: '2m', wait: true });
    assert.equal(count(again, 'unchanged'), rendered.length, JSON.stringify(again.outcomes.filter((o) => o.action !== 'unchanged')));
    // Pod Security admitted the pod in the restricted namespace.
    const phases = await found.cp.kubectl(['get', 'pods', '-n', 'headlamp', '-o', 'jsonpath={.items[*].status.phase}']);
    assert.equal(phases.trim(), 'Running');
  });

  it('issues a 1 h token for headlamp-viewer that the API server accepts as that account', async (t) => {
    const found = await cluster(t);
    if (found === undefined) return;
    const issued = await requestViewerToken(found.kube, 3600);
    token = issued.token;
    const expiresInS = (Date.parse(issued.expires) - Date.now()) / 1000;
    assert.ok(expiresInS > 3500 && expiresInS <= 3600, `expires in ${String(expiresInS)} s`);
    const viewer = clientWithToken(found.cp, token, 'viewer-1');
    viewers.push(viewer);
    const review = await viewer.request<{ status?: { userInfo?: { username?: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    assert.equal(review.status?.userInfo?.username, 'system:serviceaccount:headlamp:headlamp-viewer');
  });

  it('the token reads pods, logs, Deployments and Nodes everywhere, and never Secrets, exec or any change', async (t) => {
    const found = await cluster(t);
    if (found === undefined || token === '') return;
    const viewer = clientWithToken(found.cp, token, 'viewer-2');
    viewers.push(viewer);
    const rights = {
      'list pods in kube-system': await can(viewer, 'list', 'pods', 'kube-system'),
      'get pods/log in headlamp': await can(viewer, 'get', 'pods/log', 'headlamp'),
      'list deployments everywhere': await can(viewer, 'list', 'deployments', undefined, 'apps'),
      'list nodes': await can(viewer, 'list', 'nodes'),
      'get secrets in kube-system': await can(viewer, 'get', 'secrets', 'kube-system'),
      'list secrets in headlamp': await can(viewer, 'list', 'secrets', 'headlamp'),
      'create pods/exec in default': await can(viewer, 'create', 'pods/exec', 'default'),
      'delete pods in default': await can(viewer, 'delete', 'pods', 'default'),
      'patch deployments in default': await can(viewer, 'patch', 'deployments', 'default', 'apps'),
      'list rolebindings in default': await can(viewer, 'list', 'rolebindings', 'default', 'rbac.authorization.k8s.io'),
    };
    assert.deepEqual(rights, {
      'list pods in kube-system': true,
      'get pods/log in headlamp': true,
      'list deployments everywhere': true,
      'list nodes': true,
      'get secrets in kube-system': false,
      'list secrets in headlamp': false,
      'create pods/exec in default': false,
      'delete pods in default': false,
      'patch deployments in default': false,
      'list rolebindings in default': false,
    });
    // Not only the review: the API server serves the one and refuses the other.
    assert.ok((await viewer.list('v1', 'Pod', { namespace: 'kube-system' })).items.length >= 0);
    await assert.rejects(viewer.list('v1', 'Secret', { namespace: 'kube-system' }), /403|forbidden/i);
  });

  it('tears down every object, and the token stops working with its account', async (t) => {
    const found = await cluster(t);
    if (found === undefined || token === '') return;
    const deleted = await teardownLayer(found.kube, { layer: 'headlamp', dryRun: false, timeoutMs: 120_000, output: createRecordingOutput() });
    assert.equal(deleted.length, renderHeadlamp(parseHeadlampOptions({})).length);
    const namespaces = await found.cp.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.doesNotMatch(namespaces, /namespace\/headlamp\b/);
    assert.equal(await found.kube.get({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'tracelab-headlamp-viewer' }), undefined);
    const viewer = clientWithToken(found.cp, token, 'viewer-3');
    viewers.push(viewer);
    // Refused either way: 401 once the API server no longer finds the account, 403 while it still
    // serves the token's authentication from its short success cache (the rights are gone already).
    await assert.rejects(viewer.list('v1', 'Pod', { namespace: 'kube-system' }), /401|rejected the credentials|forbidden/);
  });
});
