import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../core/errors.ts';
import { parseRegistryOptions } from '../../registry/options.ts';

describe('parseRegistryOptions()', () => {
  it('defaults to storage chosen by the cluster, 5Gi', () => {
    assert.deepEqual(parseRegistryOptions({}), { storage: 'auto', storageSize: '5Gi' });
    assert.deepEqual(parseRegistryOptions({ storage: 'pod', 'storage-size': '20Gi' }), { storage: 'pod', storageSize: '20Gi' });
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ storage: 'disk' }, /^--storage 'disk' must be auto, claim .* or pod /],
    [{ 'storage-size': '10G' }, /^--storage-size '10G' must be a size from 1Gi to 1Ti, e\.g\. --storage-size 10Gi$/],
    [{ 'storage-size': '512Mi' }, /^--storage-size '512Mi' must be a size from 1Gi to 1Ti/],
    [{ 'storage-size': '2Ti' }, /^--storage-size '2Ti' must be a size from 1Gi to 1Ti/],
    [{ size: '1Gi' }, /^unknown option --size for the registry layer — it takes --storage, --storage-size$/],
  ];
  for (const [raw, message] of bad) {
    it(`refuses ${JSON.stringify(raw)} in one line`, () => {
      assert.throws(() => parseRegistryOptions(raw), (err: unknown) => err instanceof UserError && message.test(err.message));
    });
  }
});
