import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify } from 'yaml';
import { mergeKubeconfig } from '../../bootstrap/kubeconfig.ts';

const admin = stringify({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'tracelab', cluster: { server: 'https://10.251.0.10:6443', 'certificate-authority-data': 'Q0E=' } }],
  users: [{ name: 'kubernetes-admin', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }],
  contexts: [{ name: 'kubernetes-admin@tracelab', context: { cluster: 'tracelab', user: 'kubernetes-admin' } }],
  'current-context': 'kubernetes-admin@tracelab',
});

const work = stringify({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'work', cluster: { server: 'https://work.example:6443' } }],
  users: [{ name: 'me', user: { token: 'secret' } }],
  contexts: [{ name: 'work', context: { cluster: 'work', user: 'me' } }],
  'current-context': 'work',
  preferences: { colors: true },
});

interface Config {
  clusters: { name: string; cluster: { server: string } }[];
  users: { name: string }[];
  contexts: { name: string; context: { cluster: string; user: string } }[];
  'current-context': string;
  preferences?: unknown;
}

describe('mergeKubeconfig()', () => {
  it('writes a new kubeconfig with the lab’s own names when there was none', () => {
    const merged = mergeKubeconfig(undefined, admin, 'tracelab-lab1');
    const config = parse(merged.text) as Config;
    assert.deepEqual(config.contexts, [{ name: 'tracelab-lab1', context: { cluster: 'tracelab-lab1', user: 'tracelab-lab1' } }]);
    assert.equal(config.clusters[0]?.cluster.server, 'https://10.251.0.10:6443');
    assert.equal(config['current-context'], 'tracelab-lab1');
    assert.deepEqual(merged.replaced, []);
    assert.equal(merged.previousContext, undefined);
  });

  it('keeps every entry of an existing kubeconfig and says which context was current', () => {
    const merged = mergeKubeconfig(work, admin, 'tracelab-lab1');
    const config = parse(merged.text) as Config;
    assert.deepEqual(config.contexts.map((c) => c.name), ['work', 'tracelab-lab1']);
    assert.deepEqual(config.users.map((u) => u.name), ['me', 'tracelab-lab1']);
    assert.deepEqual(config.preferences, { colors: true });
    assert.equal(merged.previousContext, 'work');
    assert.deepEqual(merged.replaced, []);
  });

  it('is a no-op merge on a re-run, and names what a rebuilt lab replaced', () => {
    const once = mergeKubeconfig(work, admin, 'tracelab-lab1');
    const twice = mergeKubeconfig(once.text, admin, 'tracelab-lab1');
    assert.equal(twice.text, once.text);
    assert.deepEqual(twice.replaced, []);
    const rebuilt = mergeKubeconfig(once.text, admin.replace('10.251.0.10', '10.251.0.11'), 'tracelab-lab1');
    assert.deepEqual(rebuilt.replaced, ["cluster 'tracelab-lab1'"]);
  });

  it('refuses a kubeconfig that is not YAML in one line, without quoting it', () => {
    assert.throws(() => mergeKubeconfig('clusters: [\n  token: secret-value', admin, 'x'), (err: unknown) => err instanceof Error && /^your kubeconfig is not valid YAML/.test(err.message) && !err.message.includes('secret-value') && !err.message.includes('\n'));
  });
});
