import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../../core/kube/duration.ts';

describe('parseDuration()', () => {
  for (const [text, ms] of [['5m', 300_000], ['90s', 90_000], ['1h30m', 5_400_000], ['500ms', 500], ['1.5s', 1_500]] as const) {
    it(`reads ${text}`, () => {
      assert.equal(parseDuration(text, '--timeout'), ms);
    });
  }
  for (const text of ['5', 'five minutes', '5x', '', '0s', '-1m']) {
    it(`rejects '${text}' naming the flag`, () => {
      assert.throws(() => parseDuration(text, '--timeout'), /--timeout/);
    });
  }
});

describe('formatDuration()', () => {
  it('prints whole units', () => {
    assert.equal(formatDuration(300_000), '5m');
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(1_500), '1.5s');
  });
});
