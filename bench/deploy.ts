// npm run bench:deploy — on a fresh local control plane (kwok nodes), in one run:
// `tracelab deploy demo` versus `kubectl apply --server-side` + `kubectl rollout status` on the
// same rendered YAML (in a second namespace), then the no-change re-run of each.
// Prints the times and the ratio, writes bench/results/deploy-<time>.json.
// Target: ours ≤ 1.0 × kubectl; no-change re-run ≤ 2 s.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentPath } from '../testenv/components.ts';
import { startControlPlane } from '../testenv/controlplane.ts';
import { writeRendered } from '../core/kube/render.ts';
import { parseDemoOptions } from '../demo/options.ts';
import { renderDemo } from '../demo/render.ts';

const cli = fileURLToPath(new URL('../cli/tracelab.ts', import.meta.url));
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const images = 'frontend=registry.invalid/tracelab/frontend:v1,backend=registry.invalid/tracelab/backend:v1';
const kubectlNamespace = 'tracelab-kubectl';
const rounds = 3;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function timed(command: string, args: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`${command} ${args.join(' ')} exited ${String(code)}: ${stderr.trim()}`));
    });
  });
}

async function main(): Promise<void> {
  const cp = await startControlPlane({ nodes: 3, onStatus: (line) => { process.stderr.write(`  control plane: ${line}\n`); } });
  const work = mkdtempSync(join(tmpdir(), 'tracelab-bench-deploy-'));
  try {
    const yamlDir = join(work, 'rendered');
    await writeRendered('demo', renderDemo(parseDemoOptions({ images, namespace: kubectlNamespace })), yamlDir);
    const kubectl = componentPath('kubectl');
    const ours = (): Promise<number> => timed(process.execPath, [cli, '--kubeconfig', cp.kubeconfig, 'deploy', 'demo', '--images', images]);
    const theirs = async (): Promise<number> => {
      let total = await timed(kubectl, ['--kubeconfig', cp.kubeconfig, 'apply', '--server-side', '--field-manager=kubectl-bench', '-f', yamlDir]);
      for (const name of ['frontend', 'backend']) {
        total += await timed(kubectl, ['--kubeconfig', cp.kubeconfig, 'rollout', 'status', `deployment/${name}`, '-n', kubectlNamespace, '--timeout=5m']);
      }
      return total;
    };
    // Rounds on a clean slate each (both torn down in between); medians are reported.
    const samples = { oursFirst: [] as number[], kubectlFirst: [] as number[], oursRerun: [] as number[], kubectlRerun: [] as number[] };
    for (let round = 0; round < rounds; round++) {
      samples.oursFirst.push(await ours());
      samples.kubectlFirst.push(await theirs());
      samples.oursRerun.push(await ours());
      samples.kubectlRerun.push(await theirs());
      await timed(process.execPath, [cli, '--kubeconfig', cp.kubeconfig, 'teardown', 'demo']);
      await timed(kubectl, ['--kubeconfig', cp.kubeconfig, 'delete', '-f', yamlDir, '--wait=true']);
    }
    const oursFirst = median(samples.oursFirst);
    const kubectlFirst = median(samples.kubectlFirst);
    const oursRerun = median(samples.oursRerun);
    const kubectlRerun = median(samples.kubectlRerun);
    const result = {
      benchmark: 'deploy',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      controlPlane: { nodes: 3, kubectl: 'kubectl from testenv/components (same version as the apiserver)' },
      objects: 11,
      rounds,
      samplesMs: Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, values.map(Math.round)])),
      firstDeployMs: { tracelab: Math.round(oursFirst), kubectl: Math.round(kubectlFirst), ratio: Number((oursFirst / kubectlFirst).toFixed(2)) },
      noChangeRerunMs: { tracelab: Math.round(oursRerun), kubectl: Math.round(kubectlRerun), ratio: Number((oursRerun / kubectlRerun).toFixed(2)) },
      targets: { ratioAtMost: 1.0, rerunAtMostMs: 2000 },
      met: { ratio: oursFirst <= kubectlFirst, rerun: oursRerun <= 2000 },
    };
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `deploy-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`medians of ${rounds} rounds`);
    console.log(`first deploy:     tracelab ${result.firstDeployMs.tracelab} ms, kubectl ${result.firstDeployMs.kubectl} ms, ratio ${result.firstDeployMs.ratio}`);
    console.log(`no-change re-run: tracelab ${result.noChangeRerunMs.tracelab} ms, kubectl ${result.noChangeRerunMs.kubectl} ms, ratio ${result.noChangeRerunMs.ratio}`);
    console.log(`targets: ratio ≤ 1.0 ${result.met.ratio ? 'met' : 'NOT met'}; re-run ≤ 2 s ${result.met.rerun ? 'met' : 'NOT met'}`);
    console.log(`wrote ${file}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    await cp.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`✗ bench:deploy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
