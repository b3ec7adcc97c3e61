import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseLog } from '../../../core/kube/wait.ts';

describe('diagnoseLog()', () => {
  it("recognises metrics-server failing to verify the kubelets' certificates, and says the fix", () => {
    const log = [
      'I1201 10:00:00.000000       1 serving.go:374] Generated self-signed cert',
      'E1201 10:00:15.000000       1 scraper.go:149] "Failed to scrape node" err="Get \\"https://10.0.0.2:10250/metrics/resource\\": tls: failed to verify certificate: x509: cannot validate certificate for 10.0.0.2 because it doesn\'t contain any IP SANs" node="lab1"',
    ].join('\n');
    const diagnosis = diagnoseLog(log) ?? '';
    assert.match(diagnosis, /^TLS verification failed: tls: failed to verify certificate: x509: cannot validate certificate for 10\.0\.0\.2/);
    assert.match(diagnosis, /--kubelet-tls insecure/);
  });

  it('says nothing about a log without a known cause', () => {
    assert.equal(diagnoseLog('listening on :8080\nready'), undefined);
  });
});
