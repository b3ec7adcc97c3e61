// npm run bench:build [rounds] — on a real test node bootstrapped by tracelab, in one run: both
// demo images built in the cluster (a BuildKit pod each, context streamed in, the layer cache in the
// lab registry) against the same BuildKit run directly on the node (buildkitd + buildctl, the same
// context and base image, the limit); each cold (a fresh registry), unchanged and after a one-line
// change to the backend; then an unchanged `deploy:demo`.
// Writes bench/results/build-<time>.json: top level `ratio` (in-cluster ÷ direct, cold builds),
// `unchangedDeployMs` and `unchangedDeployChanges`. Targets: ratio ≤ 1.3, unchanged deploy ≤ 5 s
// with 0 changes.
import { appendFileSync, cpSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { buildArtifacts, readManifest } from '../bootstrap/artifacts/build.ts';
import { cacheBin } from '../bootstrap/artifacts/sources.ts';
import { buildctlArgs, buildkitBuilder, buildkitdConfig, buildkitImage } from '../build/builders/buildkit.ts';
import { buildContext } from '../build/context.ts';
import { buildDemoImages } from '../build/demo-images.ts';
import { demoSources } from '../build/demo-sources.ts';
import { pushImageArchive } from '../build/push-image.ts';
import { createKube, type KubeClient } from '../core/kube/client.ts';
import { forwardToService } from '../core/kube/port-forward.ts';
import { createOutput, createRecordingOutput } from '../core/output.ts';
import { buildNamespace, inClusterRegistryHost, labRepository, registryNamespace, registryNodePort, registryPort } from '../registry/address.ts';
import { createLab } from '../testenv/nodes/lab.ts';
import type { TestNode } from '../testenv/nodes/node.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const cli = join(repo, 'cli/tracelab.ts');
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const rounds = Number(process.argv[2] ?? 2);
const services = ['frontend', 'backend'] as const;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** The sources a person would change, outside the repository. */
function copySources(to: string): void {
  cpSync(repo, to, { recursive: true, filter: (path) => !/\/(node_modules|\.git|\.tracelab|bench|test|testenv)(\/|$)/.test(path.slice(repo.length - 1)) });
}

/** The build context of `sources` unpacked where the node can read it, as buildctl's --local wants it. */
async function unpackedContext(sources: string, dir: string): Promise<void> {
  const context = await buildContext({ root: sources, offlineNpmCache: true });
  try {
    mkdirSync(dir, { recursive: true });
    await pipeline(context.stream(), createWriteStream(join(dir, '..', 'context.tar.gz')));
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tracelab-bench-build-'));
  const artifacts = join(work, 'artifacts');
  const kubeconfig = join(work, 'kubeconfig');
  const binDir = cacheBin(process.env.TRACELAB_CACHE);
  await buildArtifacts(artifacts, { binDir, runc: '/usr/sbin/runc' }, createOutput({ interactive: false }));
  const base = (await readManifest(artifacts))?.baseImage;
  if (base === undefined) throw new Error('the artifacts have no Node base image');
  const lab = await createLab({ purpose: 'bench/build.ts' });
  let kube: KubeClient | undefined;
  const samples = { inClusterCold: [] as number[], directCold: [] as number[], inClusterUnchanged: [] as number[], directUnchanged: [] as number[], inClusterOneLine: [] as number[], directOneLine: [] as number[] };
  let unchangedDeployMs: number;
  let unchangedDeployChanges: number;
  try {
    const node: TestNode = await lab.addNode('bench1');
    await node.executor.run(['ip', 'route', 'add', '10.96.0.0/12', 'dev', 'eth0']);
    const tracelab = async (...args: string[]): Promise<string> => {
      const result = await node.executor.run([process.execPath, cli, '--kubeconfig', kubeconfig, ...args], { env: { CI: 'true' } });
      return result.stderr;
    };
    await tracelab('bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', node.cgroupRoot, '--no-layers', '--timeout', '4m');
    await tracelab('up', 'builds');
    kube = createKube({ kubeconfig, context: 'tracelab' });
    const nodeImage = `${inClusterRegistryHost}/${labRepository('node-base')}@${base.manifestDigest}`;
    const directRegistry = `${node.address}:${String(registryNodePort)}`;
    const directBase = `${directRegistry}/${labRepository('node-base')}@${base.manifestDigest}`;
    writeFileSync(join(work, 'buildkitd.toml'), buildkitdConfig([directRegistry]));

    for (let round = 0; round < rounds; round++) {
      const sources = join(work, `sources-${String(round)}`);
      copySources(sources);
      // Cold: a registry with nothing in it but the base image.
      await tracelab('--yes', 'teardown', 'registry');
      await tracelab('up', 'registry', '--storage', 'pod');
      const forward = await forwardToService(kube, registryNamespace, 'registry', registryPort);
      await pushImageArchive(join(artifacts, base.file), new URL(`http://127.0.0.1:${String(forward.port)}`), labRepository('node-base'), 'bench');
      await forward.close();

      const inCluster = async (): Promise<void> => {
        const demo = await demoSources(sources, { offline: true });
        try {
          await buildDemoImages(kube as KubeClient, { builder: buildkitBuilder(kube as KubeClient, { namespace: buildNamespace, image: buildkitImage, deadlineSeconds: 1800 }), sources: demo, nodeImage }, { dryRun: false, output: createRecordingOutput(), signal: new AbortController().signal });
        } finally {
          await demo.close();
        }
      };
      // The same builds straight on the node: one buildkitd, both images at once, the same context, base and registry.
      const contextDir = join(work, `direct-${String(round)}`, 'context');
      const direct = async (tag: string): Promise<void> => {
        await unpackedContext(sources, contextDir);
        const builds = services.map((service) => {
          const args = buildctlArgs({ label: service, image: `${directRegistry}/bench/${service}:${tag}`, buildArgs: { SERVICE: service, NODE_IMAGE: directBase }, cacheImage: `${directRegistry}/bench/cache:${service}` }, [directRegistry]);
          return `buildctl --addr unix:///run/bench-buildkit.sock build --progress quiet --frontend dockerfile.v0 --local context=${contextDir} --local dockerfile=${contextDir} ${args.map((arg) => `'${arg}'`).join(' ')}`;
        });
        await node.executor.run(['sh', '-c', `set -e; rm -rf ${contextDir}; mkdir -p ${contextDir}; tar -xzf ${contextDir}/../context.tar.gz -C ${contextDir}; ${builds.map((build) => `(${build}) & `).join('')} wait`], { env: { PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin` } });
      };
      await node.executor.run(['sh', '-c', `rm -rf /var/lib/bench-buildkit; setsid ${binDir}/buildkitd --config ${join(work, 'buildkitd.toml')} --root /var/lib/bench-buildkit --addr unix:///run/bench-buildkit.sock >/var/log/bench-buildkitd.log 2>&1 </dev/null & echo $! >${join(work, 'buildkitd.pid')}; for i in $(seq 100); do ${binDir}/buildctl --addr unix:///run/bench-buildkit.sock debug workers >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1`], { env: { PATH: `${binDir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin` } });

      samples.inClusterCold.push(await timed(inCluster));
      samples.directCold.push(await timed(() => direct('cold')));
      samples.inClusterUnchanged.push(await timed(inCluster));
      samples.directUnchanged.push(await timed(() => direct('unchanged')));
      appendFileSync(join(sources, 'services/backend/src/server.ts'), `// bench round ${String(round)}\n`);
      samples.inClusterOneLine.push(await timed(inCluster));
      samples.directOneLine.push(await timed(() => direct('one-line')));
      // This bench's buildkitd only: build pods of other labs on this machine run one too.
      await node.executor.run(['sh', '-c', `kill "$(cat ${join(work, 'buildkitd.pid')})"; true`]);
      process.stderr.write(`round ${String(round + 1)}: ${Object.entries(samples).map(([key, values]) => `${key} ${String(Math.round(values[round] ?? 0))} ms`).join(', ')}\n`);
    }

    // deploy:demo as a person runs it, twice: the second finds both images and changes nothing.
    const sources = join(work, 'sources-deploy');
    copySources(sources);
    await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources, '--timeout', '8m');
    const started = performance.now();
    const again = await tracelab('deploy', 'demo', '--artifacts', artifacts, '--sources', sources);
    unchangedDeployMs = performance.now() - started;
    const counts = [...again.matchAll(/^\w+: (\d+) created, (\d+) changed, \d+ unchanged, (\d+) pruned$/gm)].map((match) => Number(match[1]) + Number(match[2]) + Number(match[3]));
    unchangedDeployChanges = counts.reduce((sum, count) => sum + count, 0);
  } finally {
    await kube?.close();
    await lab.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  const medians = Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, Math.round(median(values))]));
  const ratio = Number((median(samples.inClusterCold) / median(samples.directCold)).toFixed(3));
  const result = {
    benchmark: 'build',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length },
    ratio,
    unchangedDeployMs: Math.round(unchangedDeployMs),
    unchangedDeployChanges,
    targets: { ratio: 1.3, unchangedDeployMs: 5000, unchangedDeployChanges: 0 },
    mediansMs: medians,
    samplesMs: Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, values.map(Math.round)])),
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `build-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `cold build of both images, medians of ${String(rounds)}: in the cluster ${String(medians.inClusterCold)} ms, directly on the node ${String(medians.directCold)} ms, ratio ${String(ratio)} (target ≤ 1.3 ${ratio <= 1.3 ? 'met' : 'NOT met'})\n` +
      `unchanged rebuild: ${String(medians.inClusterUnchanged)} ms vs ${String(medians.directUnchanged)} ms; one-line change: ${String(medians.inClusterOneLine)} ms vs ${String(medians.directOneLine)} ms\n` +
      `unchanged deploy:demo: ${String(result.unchangedDeployMs)} ms, ${String(unchangedDeployChanges)} changes (target ≤ 5 s and 0 ${result.unchangedDeployMs <= 5000 && unchangedDeployChanges === 0 ? 'met' : 'NOT met'})\nwrote ${file}\n`,
  );
}

await main();
