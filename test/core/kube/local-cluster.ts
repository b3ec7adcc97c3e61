// Shared by the deploy engine's integration tests: one local control plane per test file, started
// by the first test that needs it, and the CLI run against it as a person would run it.
import { after, type TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createKube, type KubeClient } from '../../../core/kube/client.ts';
import { requireComponents } from '../../../testenv/components.ts';
import { controlPlaneBinaries, startControlPlane, type ControlPlane } from '../../../testenv/controlplane.ts';

const cli = fileURLToPath(new URL('../../../cli/tracelab.ts', import.meta.url));

export interface LocalCluster {
  readonly cp: ControlPlane;
  readonly kube: KubeClient;
}

/** `cluster(t)` gives this file's control plane (undefined after marking the test skipped when not built). */
export function localCluster(nodes: number): (t: TestContext) => Promise<LocalCluster | undefined> {
  let controlPlane: Promise<ControlPlane> | undefined;
  let kubeClient: KubeClient | undefined;
  after(async () => {
    await kubeClient?.close();
    if (controlPlane !== undefined) await (await controlPlane.catch(() => undefined))?.stop();
  });
  return async (t) => {
    if (requireComponents(t, controlPlaneBinaries) === undefined) return undefined;
    controlPlane ??= startControlPlane({ nodes });
    const cp = await controlPlane;
    kubeClient ??= createKube({ kubeconfig: cp.kubeconfig, retry: { attempts: 3, maxElapsedMs: 5_000, baseDelayMs: 300, maxDelayMs: 2_000 } });
    return { cp, kube: kubeClient };
  };
}

export interface Run {
  readonly status: number | null;
  readonly stderr: string;
  readonly ms: number;
}

/** The CLI against the control plane, without a terminal (CI=true); stderr is what a person reads. */
export function tracelab(cp: ControlPlane, args: readonly string[], options: { onStderr?: (text: string, child: ChildProcess) => void } = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, '--kubeconfig', cp.kubeconfig, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr, child);
    });
    child.on('close', (status) => {
      resolve({ status, stderr, ms: Date.now() - started });
    });
  });
}
