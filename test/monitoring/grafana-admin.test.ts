import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { KubeApiError, KubeUnreachableError } from '../../core/kube/errors.ts';
import { RetriesExhaustedError } from '../../core/kube/retry.ts';
import { ensureGrafanaAdminPassword, readGrafanaAdminPassword } from '../../monitoring/grafana-admin.ts';

/** A client whose every read fails with `err`. */
const failingWith = (err: Error): KubeClient => ({ get: () => Promise.reject(err) }) as unknown as KubeClient;

describe('readGrafanaAdminPassword() / ensureGrafanaAdminPassword() when the API fails', () => {
  it('names the Secret, the unreachable API and the fix in one line, exit code 4', async () => {
    const unreachable = new RetriesExhaustedError(5, 6_200, new KubeUnreachableError('https://127.0.0.1:6443', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6443'));
    for (const call of [() => readGrafanaAdminPassword(failingWith(unreachable)), () => ensureGrafanaAdminPassword(failingWith(unreachable), { dryRun: false })]) {
      await assert.rejects(call(), (err: unknown) =>
        err instanceof UserError &&
        err.exitCode === 4 &&
        err.message.startsWith('read Secret monitoring/grafana-admin: cannot reach the Kubernetes API at https://127.0.0.1:6443') &&
        err.message.endsWith('— check that the cluster is up and --kubeconfig/--context point at it') &&
        !err.message.includes('\n'));
    }
  });

  it('names the Secret and the refusal of the API, exit code 5', async () => {
    const forbidden = new KubeApiError({ status: 403, reason: 'Forbidden', message: 'secrets "grafana-admin" is forbidden: User "lab" cannot get resource "secrets"', method: 'GET', path: '/api/v1/namespaces/monitoring/secrets/grafana-admin' });
    await assert.rejects(readGrafanaAdminPassword(failingWith(forbidden)), (err: unknown) =>
      err instanceof UserError && err.exitCode === 5 && err.message === 'read Secret monitoring/grafana-admin: secrets "grafana-admin" is forbidden: User "lab" cannot get resource "secrets"');
  });
});
