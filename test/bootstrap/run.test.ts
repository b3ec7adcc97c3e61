import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { standaloneSteps } from '../../bootstrap/index.ts';
import { localExecutor } from '../../bootstrap/executors/local.ts';
import { hostAccess } from '../../bootstrap/host-access.ts';
import { runBootstrapSteps } from '../../bootstrap/run.ts';
import { modulesFile, sysctlFile } from '../../bootstrap/host-prep.ts';
import type { BootstrapContext, BootstrapStep, NodePlan } from '../../bootstrap/steps/step.ts';
import { createRecordingOutput } from '../../core/output.ts';
import { UserError } from '../../core/errors.ts';

const lab: NodePlan = {
  nodeName: 'lab1',
  nodeIP: undefined,
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  kubernetesVersion: 'v1.37.2',
  role: 'standalone',
  cni: 'bridge',
  controlPlaneRunsPods: true,
  cgroupDriver: undefined,
  controlPlaneAddress: undefined,
  source: { kind: 'artifacts', dir: '/nonexistent/artifacts', hostDir: '/nonexistent/artifacts' },
  imageRepository: 'tracelab.local/k8s',
  etcdImageTag: '3.6.16-0',
  corednsImageTag: 'v1.14.6',
  kubeletCgroupRoot: undefined,
  nodeLabels: {},
  userKubeconfig: '/nonexistent/kubeconfig',
  contextName: 'tracelab',
  timeoutMs: 60_000,
};

describe('runBootstrapSteps() with --dry-run on this machine', () => {
  it('reads the host for real, prints the commands that would change it, and changes nothing', async () => {
    const output = createRecordingOutput();
    // This machine may have several addresses (a test lab's bridge among them): name the node's.
    const address = Object.values(networkInterfaces()).flat().find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
    const ctx: BootstrapContext = { host: hostAccess(localExecutor('this-machine'), { dryRun: true, output }), lab: { ...lab, nodeIP: address }, output, dryRun: true, facts: undefined, node: undefined, kube: undefined, join: undefined };
    const before = [existsSync(sysctlFile), existsSync(modulesFile)];
    try {
      await runBootstrapSteps(standaloneSteps.slice(0, 2), ctx);
    } catch (err) {
      // A machine that fails preflight (too few CPUs, busy ports) says so; the rest is still a dry run.
      assert.ok(err instanceof UserError && /^this-machine is not ready for Kubernetes: /.test(err.message), String(err));
      return;
    }
    assert.ok(ctx.facts !== undefined, 'preflight read the host');
    if (!output.lines.some((line) => line.includes('(already done)'))) {
      assert.ok(output.lines.includes(`  this-machine$ write ${sysctlFile} (${String(output.lines.find((l) => l.includes(sysctlFile))?.match(/\((\d+) bytes/)?.[1])} bytes, mode 644)`), output.lines.join('\n'));
      assert.ok(output.lines.some((line) => line === `  this-machine$ sysctl -q -p ${sysctlFile}`), output.lines.join('\n'));
    }
    assert.deepEqual([existsSync(sysctlFile), existsSync(modulesFile)], before, 'nothing written');
  });
});

describe('runBootstrapSteps()', () => {
  const step = (title: string, done: boolean, log: string[], fail = false): BootstrapStep => ({
    title,
    isDone: () => Promise.resolve(done),
    run: () => {
      log.push(title);
      return fail ? Promise.reject(new Error('exit 1: no space left on device')) : Promise.resolve();
    },
  });
  const context = (): BootstrapContext => {
    const output = createRecordingOutput();
    return { host: hostAccess(localExecutor('lab1'), { dryRun: true, output }), lab, output, dryRun: true, facts: undefined, node: undefined, kube: undefined, join: undefined };
  };

  it('skips the steps that are done and runs the rest', async () => {
    const log: string[] = [];
    const ctx = context();
    const result = await runBootstrapSteps([step('preflight', false, log), step('a', true, log), step('b', false, log)], ctx);
    assert.deepEqual(log, ['preflight', 'b']);
    assert.deepEqual(result, { ran: ['preflight', 'b'], skipped: ['a'] });
  });

  it('names the host and the step of a failure, and says a re-run continues', async () => {
    const log: string[] = [];
    const err = await runBootstrapSteps([step('preflight', false, log), step('Install containerd', false, log, true), step('c', false, log)], context()).catch((e: unknown) => e);
    assert.ok(err instanceof UserError);
    assert.equal(err.message, 'lab1: Install containerd failed: exit 1: no space left on device — fix the cause and run the same command again: finished steps are skipped');
    assert.deepEqual(log, ['preflight', 'Install containerd']);
  });
});
