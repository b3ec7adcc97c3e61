import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clashes, firstFreeSubnet, formatPrefix, hostAddress, overlaps, parsePrefix } from '../../../testenv/nodes/subnets.ts';

describe('parsePrefix()', () => {
  it('normalises the network address; a bare address is a /32', () => {
    assert.equal(formatPrefix(parsePrefix('10.251.3.77/24')), '10.251.3.0/24');
    assert.equal(formatPrefix(parsePrefix('192.0.2.2')), '192.0.2.2/32');
  });

  for (const bad of ['10.251.0/24', '10.251.0.256/24', '10.251.0.0/33', 'default']) {
    it(`refuses '${bad}'`, () => {
      assert.throws(() => parsePrefix(bad));
    });
  }
});

describe('overlaps()', () => {
  const table: [string, string, boolean][] = [
    ['10.251.0.0/24', '10.251.0.0/16', true],
    ['10.251.0.0/24', '10.251.1.0/24', false],
    ['10.251.0.0/24', '10.251.0.255', true],
    ['10.0.0.0/8', '10.251.7.0/24', true],
    ['192.0.2.0/24', '10.251.0.0/24', false],
  ];
  for (const [a, b, expected] of table) {
    it(`${a} and ${b}: ${expected}`, () => {
      assert.equal(overlaps(parsePrefix(a), parsePrefix(b)), expected);
      assert.equal(overlaps(parsePrefix(b), parsePrefix(a)), expected);
    });
  }
});

describe('firstFreeSubnet()', () => {
  const pool = parsePrefix('10.251.0.0/16');

  it('takes the first /24 when nothing clashes, ignoring the default route', () => {
    const routes = ['0.0.0.0/0', '192.0.2.0/24', '127.0.0.0/8'].map(parsePrefix);
    assert.equal(formatPrefix(firstFreeSubnet(pool, routes) ?? parsePrefix('0.0.0.0/32')), '10.251.0.0/24');
  });

  it('skips the /24s that host routes or addresses overlap', () => {
    const routes = ['10.251.0.0/23', '10.251.2.9'].map(parsePrefix);
    assert.equal(formatPrefix(firstFreeSubnet(pool, routes) ?? parsePrefix('0.0.0.0/32')), '10.251.3.0/24');
  });

  it('finds none when a wider route covers the whole pool', () => {
    assert.equal(firstFreeSubnet(pool, [parsePrefix('10.0.0.0/8')]), undefined);
  });
});

describe('clashes()', () => {
  it('names the routes a requested subnet overlaps', () => {
    const routes = ['0.0.0.0/0', '10.0.0.0/8', '192.0.2.0/24'].map(parsePrefix);
    assert.deepEqual(clashes(parsePrefix('10.251.0.0/24'), routes).map(formatPrefix), ['10.0.0.0/8']);
  });
});

describe('hostAddress()', () => {
  it('numbers hosts from the network address and refuses the broadcast address', () => {
    const subnet = parsePrefix('10.251.0.0/24');
    assert.equal(hostAddress(subnet, 1), '10.251.0.1');
    assert.equal(hostAddress(subnet, 10), '10.251.0.10');
    assert.throws(() => hostAddress(subnet, 255));
  });
});
