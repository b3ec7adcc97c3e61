import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDemoOptions } from '../../demo/options.ts';

const images = 'frontend=registry.local:5000/tracelab/frontend:v1,backend=registry.local:5000/tracelab/backend:v1';

describe('parseDemoOptions()', () => {
  it('applies the defaults', () => {
    assert.deepEqual(parseDemoOptions({ images }), {
      namespace: 'tracelab-demo',
      images: { frontend: 'registry.local:5000/tracelab/frontend:v1', backend: 'registry.local:5000/tracelab/backend:v1' },
      replicas: 2,
      backendLatencyMs: undefined,
      backendCpuMs: undefined,
      backendErrorRate: undefined,
      pullSecret: undefined,
      meshed: false,
    });
  });

  it('takes images from a registry named by an IPv6 address, as --registry [::1]:5000/team makes them', () => {
    const ipv6 = '[::1]:5000/team/frontend@sha256:' + 'a'.repeat(64);
    assert.equal(parseDemoOptions({ images: `frontend=${ipv6},backend=a/b:1` }).images.frontend, ipv6);
  });

  it('takes a pull secret by name, and refuses what cannot name a Secret', () => {
    assert.equal(parseDemoOptions({ images, 'pull-secret': 'registry-creds' }).pullSecret, 'registry-creds');
    assert.throws(() => parseDemoOptions({ images, 'pull-secret': 'Registry_Creds' }), /^UserError: --pull-secret 'Registry_Creds' is not a Secret name \(lowercase letters, digits, '-' and '\.'\): pass the name of a kubernetes\.io\/dockerconfigjson Secret in the demo's namespace$/);
  });

  it('reads every flag', () => {
    const options = parseDemoOptions({ images, replicas: '3', namespace: 'lab', 'backend-latency-ms': '50', 'backend-cpu-ms': '5', 'backend-error-rate': '0.1' });
    assert.equal(options.replicas, 3);
    assert.equal(options.namespace, 'lab');
    assert.equal(options.backendLatencyMs, 50);
    assert.equal(options.backendErrorRate, 0.1);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['missing images', {}, /--images is required here: pass prebuilt images as --images frontend=REF,backend=REF, or let `tracelab deploy demo` \(npm run deploy:demo\) build them in the cluster/],
    ['an image for one service only', { images: 'frontend=a/b:1' }, /--images has no image for backend/],
    ['an unknown service', { images: 'database=a/b:1' }, /unknown service 'database'/],
    ['a malformed reference', { images: 'frontend=Not An Image,backend=a/b:1' }, /is not an image reference/],
    ['zero replicas', { images, replicas: '0' }, /--replicas '0' must be an integer from 1 to 20/],
    ['an error rate above 1', { images, 'backend-error-rate': '2' }, /--backend-error-rate '2' must be a number from 0 to 1/],
    ['a bad namespace', { images, namespace: 'Demo_NS' }, /--namespace 'Demo_NS' is not a valid namespace name/],
    ['a system namespace', { images, namespace: 'kube-system' }, /--namespace 'kube-system' is a namespace Kubernetes itself uses: .* pass a namespace of its own/],
    ['the default namespace', { images, namespace: 'default' }, /--namespace 'default' is a namespace Kubernetes itself uses/],
    ['an unknown flag', { images, colour: 'blue' }, /unknown option --colour for the demo layer/],
  ];
  for (const [what, raw, message] of bad) {
    it(`rejects ${what} in one line`, () => {
      assert.throws(
        () => parseDemoOptions(raw),
        (err: unknown) => err instanceof Error && err.name === 'UserError' && message.test(err.message) && !err.message.includes('\n'),
      );
    });
  }
});
