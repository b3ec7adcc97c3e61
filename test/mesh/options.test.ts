import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../core/errors.ts';
import { meshDefaults, parseMeshOptions } from '../../mesh/options.ts';

describe('parseMeshOptions()', () => {
  it('leaves sampling and the fault to the live mesh unless given, and defaults the rest', () => {
    const options = parseMeshOptions({});
    assert.equal(options.sampling, undefined);
    assert.equal(options.fault, undefined);
    assert.equal(options.ingressNodePort, meshDefaults.ingressNodePort);
    assert.equal(options.demoNamespace, 'tracelab-demo');
    assert.equal(options.istio, undefined, 'prepare fills in the generated manifests');
  });

  it('takes every flag it documents', () => {
    const options = parseMeshOptions({ sampling: '12.5', fault: 'backend-abort', 'ingress-node-port': '31000', 'demo-namespace': 'shop', kiali: 'true', istioctl: '/opt/istioctl', artifacts: '/srv/artifacts' });
    assert.deepEqual(
      { ...options },
      { sampling: 12.5, fault: 'backend-abort', ingressNodePort: 31000, demoNamespace: 'shop', kiali: true, liveValidators: [], istioctl: '/opt/istioctl', artifacts: '/srv/artifacts', istio: undefined },
    );
    assert.equal(parseMeshOptions({}).kiali, false, 'Kiali is off by default');
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ sampling: '101' }, /^--sampling '101' is not a percentage from 0 to 100/],
    [{ sampling: 'all' }, /^--sampling 'all'/],
    [{ sampling: '' }, /^--sampling ''/],
    [{ fault: 'slow' }, /^unknown fault preset 'slow': choose one of off, backend-delay, backend-abort$/],
    [{ 'ingress-node-port': '80' }, /^--ingress-node-port '80' is outside the NodePort range 30000-32767/],
    [{ 'ingress-node-port': '30080x' }, /^--ingress-node-port '30080x'/],
    [{ 'demo-namespace': 'Shop' }, /^--demo-namespace 'Shop' is not a namespace name/],
    [{ istioctl: '' }, /^--istioctl is empty/],
    [{ kiali: 'yes' }, /^--kiali 'yes' is not true or false/],
    [{ 'gateway-api': 'true' }, /^unknown option --gateway-api for the mesh layer: it takes --sampling, --fault/],
  ];
  for (const [raw, message] of bad) {
    it(`refuses ${JSON.stringify(raw)} in one line`, () => {
      assert.throws(() => parseMeshOptions(raw), (err: unknown) => err instanceof UserError && message.test(err.message) && !err.message.includes('\n'));
    });
  }
});
