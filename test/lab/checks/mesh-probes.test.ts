import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { judgeProbe, parseProbeLog, probeLabel, renderProbes, type ProbeOutcome, type ProbeSettings } from '../../../lab/checks/mesh-probes.ts';

const settings: ProbeSettings = {
  namespace: 'tracelab-demo',
  image: '10.96.0.50:5000/tracelab/backend@sha256:' + 'a'.repeat(64),
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- a data-only client-node model
  imagePullSecrets: [{ name: 'lab-registry' }],
  backend: { app: 'backend', port: 8080 },
  suffix: 'abc123',
};

describe('renderProbes()', () => {
  const { pods, networkPolicies } = renderProbes(settings);

  it('puts the plaintext probe outside the mesh and the caller inside it, under the default ServiceAccount', () => {
    assert.equal(pods.plaintext.metadata?.labels?.['sidecar.istio.io/inject'], 'false');
    assert.equal(pods.caller.metadata?.labels?.['sidecar.istio.io/inject'], 'true');
    assert.equal(pods.caller.spec?.serviceAccountName, 'default');
    for (const pod of [pods.plaintext, pods.caller]) {
      const { metadata, spec } = pod;
      assert.ok(metadata !== undefined && spec !== undefined);
      assert.equal(metadata.namespace, 'tracelab-demo');
      assert.ok(metadata.labels?.[probeLabel], 'labelled, so that cleanup finds it');
      assert.equal(spec.restartPolicy, 'Never');
      assert.equal(spec.automountServiceAccountToken, false);
      assert.deepEqual(spec.imagePullSecrets, [{ name: 'lab-registry' }]);
      const [container] = spec.containers;
      assert.equal(container?.image, settings.image, "backend's own image: it has Node and the nodes already have it");
      assert.equal(container.command?.at(-1), 'http://backend.tracelab-demo.svc:8080/healthz');
    }
  });

  it('runs restricted: non-root, read-only root, no capabilities, seccomp, limits', () => {
    for (const pod of [pods.plaintext, pods.caller]) {
      const security = pod.spec?.securityContext;
      assert.equal(security?.runAsNonRoot, true);
      assert.equal(security.seccompProfile?.type, 'RuntimeDefault');
      const container = pod.spec?.containers[0];
      const context = container?.securityContext;
      assert.equal(context?.readOnlyRootFilesystem, true);
      assert.equal(context.allowPrivilegeEscalation, false);
      assert.deepEqual(context.capabilities?.drop, ['ALL']);
      const limits = container?.resources?.limits;
      assert.ok(limits?.cpu !== undefined && limits.memory !== undefined);
    }
  });

  it("opens backend's port to the probes only: egress from them, ingress to backend from them", () => {
    assert.deepEqual(
      networkPolicies.map((policy) => [policy.spec.podSelector, policy.spec.policyTypes]),
      [
        [{ matchExpressions: [{ key: probeLabel, operator: 'Exists' }] }, ['Egress']],
        [{ matchLabels: { app: 'backend' } }, ['Ingress']],
      ],
    );
    assert.deepEqual(networkPolicies[0]?.spec.egress, [{ to: [{ podSelector: { matchLabels: { app: 'backend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
    assert.deepEqual(networkPolicies[1]?.spec.ingress, [{ from: [{ podSelector: { matchExpressions: [{ key: probeLabel, operator: 'Exists' }] } }], ports: [{ protocol: 'TCP', port: 8080 }] }]);
    assert.ok(networkPolicies.every((policy) => policy.metadata?.labels?.[probeLabel] !== undefined));
  });
});

describe('judgeProbe()', () => {
  const verdict = (kind: 'plaintext' | 'caller', outcome: ProbeOutcome): [string, string] => {
    const result = judgeProbe(kind, outcome);
    return [result.status, result.detail];
  };

  it('passes a plaintext call only when a proxy closed the connection', () => {
    assert.equal(verdict('plaintext', { error: 'ECONNRESET', message: 'read ECONNRESET' })[0], 'pass');
    assert.equal(verdict('plaintext', { error: 'UND_ERR_SOCKET', message: 'other side closed' })[0], 'pass');
    assert.deepEqual(verdict('plaintext', { status: 200, body: 'ok' }), ['fail', 'backend answered a plaintext call from outside the mesh with HTTP 200: mutual TLS is not enforced (PeerAuthentication STRICT)']);
    assert.match(verdict('plaintext', { error: 'TimeoutError', message: 'aborted' })[1], /dropped on the way \(a NetworkPolicy\?\), not refused by backend's proxy/);
    assert.match(verdict('plaintext', { error: 'ECONNREFUSED', message: 'connect ECONNREFUSED' })[1], /^the call failed before reaching a proxy: ECONNREFUSED/);
    assert.equal(verdict('plaintext', { status: 403, body: 'RBAC: access denied' })[0], 'fail', 'an answer, even a refusal, means plaintext got through');
  });

  it("passes a foreign caller only on the proxy's RBAC 403", () => {
    assert.deepEqual(verdict('caller', { status: 403, body: 'RBAC: access denied' }), ['pass', "HTTP 403 from backend's proxy: RBAC: access denied"]);
    assert.match(verdict('caller', { status: 200, body: 'ok' })[1], /with HTTP 200: only frontend's may call it/);
    assert.equal(verdict('caller', { status: 403, body: 'forbidden by the app' })[0], 'fail', "a 403 that is not the proxy's RBAC");
    assert.match(verdict('caller', { error: 'ECONNRESET', message: 'reset' })[1], /^the call failed before any policy was applied: ECONNRESET/);
  });
});

describe('parseProbeLog()', () => {
  it('reads the marked line among others, and nothing from a log without one', () => {
    assert.deepEqual(parseProbeLog('noise\ntracelab-probe {"status":403,"body":"RBAC: access denied"}\n'), { status: 403, body: 'RBAC: access denied' });
    assert.deepEqual(parseProbeLog('tracelab-probe {"error":"ECONNRESET","message":"read ECONNRESET"}'), { error: 'ECONNRESET', message: 'read ECONNRESET' });
    assert.equal(parseProbeLog('node: bad option\n'), undefined);
  });
});

// The probe's script, run by this Node as the pod runs it, against loopback servers that behave as
// backend, backend's proxy refusing plaintext, and a NetworkPolicy's silent drop would.
describe("the probe pod's script", () => {
  const servers: Server[] = [];
  const tcp: ReturnType<typeof createTcpServer>[] = [];
  const ports = { answers: 0, denies: 0, resets: 0, silent: 0, closed: 0 };
  const listen = async (server: Server | ReturnType<typeof createTcpServer>): Promise<number> => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };

  before(async () => {
    const answers = createServer((_, response) => response.end('ok'));
    const denies = createServer((_, response) => {
      response.statusCode = 403;
      response.end('RBAC: access denied');
    });
    servers.push(answers, denies);
    const resets = createTcpServer((socket) => {
      socket.once('data', () => {
        socket.resetAndDestroy();
      });
    });
    const silent = createTcpServer(() => undefined);
    tcp.push(resets, silent);
    ports.answers = await listen(answers);
    ports.denies = await listen(denies);
    ports.resets = await listen(resets);
    ports.silent = await listen(silent);
    const probe = createTcpServer();
    ports.closed = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => { resolve(); }));
  });

  after(() => {
    for (const server of servers) server.close();
    for (const server of tcp) server.close();
  });

  // Not spawnSync: the servers answer from this process's event loop.
  const run = async (port: number): Promise<ProbeOutcome | undefined> => {
    const command = renderProbes(settings).pods.plaintext.spec?.containers[0]?.command ?? [];
    assert.equal(command[0], 'node');
    const { stdout } = await promisify(execFile)(process.execPath, [...command.slice(1, -1), `http://127.0.0.1:${String(port)}/healthz`], { encoding: 'utf8', timeout: 20_000 });
    return parseProbeLog(stdout);
  };

  it('reports each way a call can end, and the verdicts follow', async () => {
    assert.deepEqual(await run(ports.answers), { status: 200, body: 'ok' });
    const denied = await run(ports.denies);
    assert.deepEqual(denied, { status: 403, body: 'RBAC: access denied' });
    assert.equal(judgeProbe('caller', denied).status, 'pass');
    const reset = await run(ports.resets);
    assert.ok(reset && 'error' in reset);
    assert.equal(judgeProbe('plaintext', reset).status, 'pass', `a reset connection (${reset.error}) is a refusal`);
    const refused = await run(ports.closed);
    assert.deepEqual(refused && 'error' in refused ? refused.error : refused, 'ECONNREFUSED');
    const silent = await run(ports.silent);
    assert.ok(silent && 'error' in silent);
    assert.equal(silent.error, 'TimeoutError');
    assert.equal(judgeProbe('plaintext', silent).status, 'fail');
  });
});
