import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../core/errors.ts';
import { formatUiTable, parseTokenTtl, planLocalPorts } from '../../lab/ui.ts';

const oneLine = (pattern: RegExp) => (err: unknown) => err instanceof UserError && err.exitCode === 2 && pattern.test(err.message) && !err.message.includes('\n');

describe('planLocalPorts()', () => {
  it('gives each UI its fixed port, moved by --port-offset, or its own --<ui>-port', () => {
    assert.deepEqual(planLocalPorts({ portOffset: '0', ports: {} }), { grafana: 3000, jaeger: 16686, prometheus: 9090, headlamp: 4466, kiali: 20001 });
    assert.deepEqual(planLocalPorts({ portOffset: '10000', ports: { prometheus: '9999' } }), { grafana: 13000, jaeger: 26686, prometheus: 9999, headlamp: 14466, kiali: 30001 });
  });
  for (const [flags, pattern] of [
    [{ portOffset: '-5', ports: {} }, /^--port-offset '-5' is not a whole number from 0 to 45534/],
    [{ portOffset: '50000', ports: {} }, /^--port-offset '50000' is not a whole number/],
    [{ portOffset: '0', ports: { jaeger: '70000' } }, /^--jaeger-port '70000' is not a port from 1 to 65535/],
    [{ portOffset: '0', ports: { jaeger: '3000' } }, /^Grafana and Jaeger would both listen on local port 3000 — give one of them another with --grafana-port or --jaeger-port$/],
  ] as const) {
    it(`refuses ${JSON.stringify(flags)} in one line`, () => {
      assert.throws(() => planLocalPorts(flags), oneLine(pattern));
    });
  }
});

describe('parseTokenTtl()', () => {
  it('reads a duration in seconds between 10m and 24h', () => {
    assert.equal(parseTokenTtl('1h'), 3600);
    assert.equal(parseTokenTtl('10m'), 600);
    assert.throws(() => parseTokenTtl('5m'), oneLine(/^--token-ttl '5m' must be from 10m to 24h/));
    assert.throws(() => parseTokenTtl('25h'), oneLine(/^--token-ttl '25h' must be from 10m to 24h/));
    assert.throws(() => parseTokenTtl('soon'), oneLine(/^--token-ttl 'soon' is not a duration/));
  });
});

describe('formatUiTable()', () => {
  it('lines the columns up, "not installed" where there is no URL', () => {
    assert.deepEqual(formatUiTable([
      { title: 'Jaeger', url: 'http://127.0.0.1:16686', note: '' },
      { title: 'Kiali', note: 'install it with the mesh layer' },
    ]), ['Jaeger  http://127.0.0.1:16686', 'Kiali   not installed           install it with the mesh layer']);
  });
});
