import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseLayerFlags } from '../../../core/kube/commands.ts';

describe('parseLayerFlags()', () => {
  it('reads --key value, --key=value and bare flags', () => {
    assert.deepEqual(parseLayerFlags(['--images', 'frontend=a,backend=b', '--replicas=3', '--verbose-ish']), {
      images: 'frontend=a,backend=b',
      replicas: '3',
      'verbose-ish': 'true',
    });
  });

  it('rejects a stray argument in one line', () => {
    assert.throws(() => parseLayerFlags(['stray']), /unexpected argument 'stray'/);
  });
});
