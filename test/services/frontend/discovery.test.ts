import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { discover, urlFromServiceEnv } from '../../../services/frontend/src/discovery.ts';
import { frontendSettings } from '../../../services/frontend/src/app.ts';

describe('urlFromServiceEnv()', () => {
  it('builds the URL kubelet describes, bracketing IPv6', () => {
    assert.equal(urlFromServiceEnv({ BACKEND_SERVICE_HOST: '10.96.12.7', BACKEND_SERVICE_PORT: '8080' }), 'http://10.96.12.7:8080');
    assert.equal(urlFromServiceEnv({ BACKEND_SERVICE_HOST: 'fd00::7', BACKEND_SERVICE_PORT: '8080' }), 'http://[fd00::7]:8080');
    assert.equal(urlFromServiceEnv({ BACKEND_SERVICE_HOST: '10.96.12.7' }), undefined);
  });
});

describe('discover()', () => {
  it('reports the DNS answer and the env vars, and whether they agree', async () => {
    const env = { BACKEND_SERVICE_HOST: '127.0.0.1', BACKEND_SERVICE_PORT: '8080' };
    const report = await discover('dns', new URL('http://localhost:8080'), env);
    assert.equal(report.mode, 'dns');
    assert.equal(report.backendUrl, 'http://localhost:8080');
    assert.ok('addresses' in report.dns && report.dns.addresses.includes('127.0.0.1'), JSON.stringify(report.dns));
    assert.deepEqual(report.serviceEnv, { BACKEND_SERVICE_HOST: '127.0.0.1', BACKEND_SERVICE_PORT: '8080', url: 'http://127.0.0.1:8080' });
    assert.equal(report.agree, true);
  });

  it('says which name did not resolve', async () => {
    const report = await discover('dns', new URL('http://backend.invalid:8080'), {});
    assert.deepEqual(report.dns, { hostname: 'backend.invalid', error: 'ENOTFOUND' });
    assert.equal(report.agree, null);
  });
});

describe('frontendSettings()', () => {
  it('uses BACKEND_URL by default and the Service env vars with BACKEND_DISCOVERY=env', () => {
    assert.equal(frontendSettings({}).backendOrigin.origin, 'http://backend:8080');
    const fromEnv = frontendSettings({ BACKEND_DISCOVERY: 'env', BACKEND_SERVICE_HOST: '10.96.0.20', BACKEND_SERVICE_PORT: '8080' });
    assert.equal(fromEnv.backendOrigin.origin, 'http://10.96.0.20:8080');
  });
});
