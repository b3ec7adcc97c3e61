import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, commonSchema, count, loadConfig, milliseconds, oneOf, origin, port, rate } from '../../../services/common/src/config.ts';

describe('loadConfig()', () => {
  it('applies defaults for unset and empty variables', () => {
    const config = loadConfig(commonSchema, { PORT: '', LOG_LEVEL: undefined });
    assert.equal(config.PORT, 8080);
    assert.equal(config.SHUTDOWN_GRACE_MS, 10_000);
    assert.equal(config.LOG_LEVEL, 'info');
    assert.equal(config.POD_NAME, undefined);
  });

  it('parses valid values', () => {
    const schema = { PORT: port(1), RATE: rate(0), WAIT: milliseconds(0), URL: origin('http://x:1'), N: count(0, 5), MODE: oneOf('a', ['a', 'b']) };
    const config = loadConfig(schema, { PORT: '65535', RATE: '0.25', WAIT: '0', URL: 'https://backend.tracelab-demo.svc.cluster.local:8443/', N: '5', MODE: 'b' });
    assert.equal(config.PORT, 65535);
    assert.equal(config.RATE, 0.25);
    assert.equal(config.WAIT, 0);
    assert.equal(config.URL.origin, 'https://backend.tracelab-demo.svc.cluster.local:8443');
    assert.equal(config.N, 5);
    assert.equal(config.MODE, 'b');
  });

  const rejected: [string, () => unknown, string][] = [
    ['port 0', () => port(1)('PORT', '0'), 'invalid PORT="0": expected an integer port 1-65535'],
    ['port 8080.5', () => port(1)('PORT', '8080.5'), 'invalid PORT="8080.5": expected an integer port 1-65535'],
    ['rate 1.01', () => rate(0)('R', '1.01'), 'invalid R="1.01": expected a number from 0 to 1 (e.g. 0.05)'],
    ['rate NaN', () => rate(0)('R', 'NaN'), 'invalid R="NaN": expected a number from 0 to 1 (e.g. 0.05)'],
    ['rate 1e-1', () => rate(0)('R', '1e-1'), 'invalid R="1e-1": expected a number from 0 to 1 (e.g. 0.05)'],
    ['ms too large', () => milliseconds(0, 100)('T', '101'), 'invalid T="101": expected a whole number of milliseconds 0-100'],
    ['count', () => count(0, 3)('N', '4'), 'invalid N="4": expected an integer 0-3'],
    ['url scheme', () => origin('http://x')('U', 'ftp://backend'), 'invalid U="ftp://backend": expected an absolute http(s) URL such as http://backend:8080'],
    ['url credentials', () => origin('http://x')('U', 'http://a:b@backend'), 'invalid U="http://a:b@backend": expected an absolute http(s) URL such as http://backend:8080, without path, query or credentials'],
    ['one of', () => oneOf('a', ['a', 'b'])('M', 'c'), 'invalid M="c": expected one of a, b'],
  ];
  for (const [name, read, message] of rejected) {
    it(`rejects ${name} with one line naming the variable`, () => {
      assert.throws(read, (err: unknown) => err instanceof ConfigError && err.message === message);
    });
  }
});
