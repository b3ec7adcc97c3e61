// npm run bench:bootstrap [rounds] — on real test nodes (testenv/nodes), in one run: wall time from
// the artifacts directory to Ready nodes with CoreDNS answering, tracelab versus the bare sequence
// (the same kubeadm and containerd configs, installed and started by a plain shell script, no
// tracelab), then tracelab's no-change re-run: a three-node lab over SSH (bench/bootstrap-lab.ts)
// and a standalone node.
// Writes bench/results/bootstrap-<time>.json: top level the three-node lab's `nodes` (3), `ratio`
// (tracelab ÷ bare) and `noChangeRerunMs`; the standalone figures under `standalone`.
// Targets: ratio ≤ 1.15, no-change re-run ≤ 10 s.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildArtifacts, nodeBaseArchive } from '../bootstrap/artifacts/build.ts';
import { cacheBin } from '../bootstrap/artifacts/sources.ts';
import { createOutput } from '../core/output.ts';
import { createLab } from '../testenv/nodes/lab.ts';
import { benchLabRound, type LabSamples } from './bootstrap-lab.ts';
import type { TestNode } from '../testenv/nodes/node.ts';

const cli = fileURLToPath(new URL('../cli/tracelab.ts', import.meta.url));
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
const rounds = Number(process.argv[2] ?? 2);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** The same work as tracelab's steps, as a person would type it, with the configs tracelab wrote. */
function bareScript(artifacts: string, containerdConfig: string, kubeadmConfig: string, cgroupRoot: string): string {
  return `set -e
for b in containerd containerd-shim-runc-v2 ctr crictl kubelet kubeadm kubectl runc; do install -D -m 0755 ${artifacts}/bin/$b /usr/local/bin/$b; done
for p in bridge host-local loopback portmap; do install -D -m 0755 ${artifacts}/cni/$p /opt/cni/bin/$p; done
mkdir -p /etc/containerd /etc/tracelab /var/log/tracelab /var/lib/tracelab/run
cp ${containerdConfig} /etc/containerd/config.toml
cp ${kubeadmConfig} /etc/tracelab/kubeadm.yaml
sysctl -q -w net.ipv4.ip_forward=1
setsid sh -c 'while :; do /usr/local/bin/containerd; sleep 2; done >>/var/log/tracelab/containerd.log 2>&1' </dev/null >/dev/null 2>&1 &
echo $! >/var/lib/tracelab/run/containerd.pid
until ctr version >/dev/null 2>&1; do sleep 0.5; done
for i in ${artifacts}/images/*.tar; do [ "$i" = ${artifacts}/${nodeBaseArchive} ] || ctr --namespace k8s.io images import "$i" >/dev/null; done
root=${cgroupRoot.slice(1)}; for h in /sys/fs/cgroup/*/; do [ -e "$h/cgroup.procs" ] || continue; mkdir -p "$h$root"; if [ -e "$h/cpuset.cpus" ]; then [ -n "$(cat $h$root/cpuset.cpus)" ] || cat $h/cpuset.cpus >$h$root/cpuset.cpus; [ -n "$(cat $h$root/cpuset.mems)" ] || cat $h/cpuset.mems >$h$root/cpuset.mems; fi; done
setsid sh -c 'while :; do [ -f /var/lib/kubelet/config.yaml ] && { . /var/lib/kubelet/kubeadm-flags.env; /usr/local/bin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml $KUBELET_KUBEADM_ARGS; }; sleep 2; done >>/var/log/tracelab/kubelet.log 2>&1' </dev/null >/dev/null 2>&1 &
echo $! >/var/lib/tracelab/run/kubelet.pid
kubeadm init --config /etc/tracelab/kubeadm.yaml --skip-token-print >/dev/null 2>&1
mkdir -p /etc/cni/net.d && cat >/etc/cni/net.d/10-tracelab-bridge.conflist <<'EOF'
{"cniVersion":"1.0.0","name":"tracelab","plugins":[{"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.0.0/16"}]],"routes":[{"dst":"0.0.0.0/0"}]}},{"type":"portmap","capabilities":{"portMappings":true}}]}
EOF
export KUBECONFIG=/etc/kubernetes/admin.conf
until kubectl get node "$(hostname)" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; do sleep 0.5; done
until [ "$(kubectl -n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}' 2>/dev/null)" = 2 ]; do sleep 0.5; done
`;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'tracelab-bench-bootstrap-'));
  const artifacts = join(work, 'artifacts');
  const output = createOutput({ interactive: false });
  await buildArtifacts(artifacts, { binDir: cacheBin(process.env.TRACELAB_CACHE), runc: '/usr/sbin/runc' }, output);
  const lab = await createLab({ purpose: 'bench/bootstrap.ts' });
  const samples = { tracelab: [] as number[], bare: [] as number[], noChangeRerun: [] as number[] };
  const labSamples: LabSamples = { tracelab: [], bare: [], noChangeRerun: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      await benchLabRound(lab, work, artifacts, round, labSamples);
      process.stderr.write(`three nodes, round ${String(round + 1)}: tracelab ${Math.round(labSamples.tracelab[round] ?? 0)} ms, bare ${Math.round(labSamples.bare[round] ?? 0)} ms, no-change re-run ${Math.round(labSamples.noChangeRerun[round] ?? 0)} ms\n`);
    }
    for (let round = 0; round < rounds; round++) {
      // A fresh node for each run: both start from the same empty host.
      const ours: TestNode = await lab.addNode(`t${String(round)}`);
      const args = [process.execPath, cli, '--kubeconfig', join(work, `kubeconfig-${String(round)}`), 'bootstrap', '--artifacts', artifacts, '--kubelet-cgroup-root', ours.cgroupRoot, '--no-layers'];
      let started = performance.now();
      await ours.executor.run(args, { env: { CI: 'true' } });
      samples.tracelab.push(performance.now() - started);
      started = performance.now();
      await ours.executor.run(args, { env: { CI: 'true' } });
      samples.noChangeRerun.push(performance.now() - started);
      const configs = join(work, `configs-${String(round)}`);
      mkdirSync(configs, { recursive: true });
      writeFileSync(join(configs, 'config.toml'), (await ours.executor.readFile('/etc/containerd/config.toml')) ?? '');
      const kubeadm = ((await ours.executor.readFile('/etc/tracelab/kubeadm.yaml')) ?? '').replaceAll(ours.address, '@NODE_IP@').replaceAll(ours.name, '@NODE_NAME@').replaceAll(ours.cgroupRoot, '@CGROUP_ROOT@');
      await lab.removeNode(ours.name);

      const bare: TestNode = await lab.addNode(`b${String(round)}`);
      writeFileSync(join(configs, 'kubeadm.yaml'), kubeadm.replaceAll('@NODE_IP@', bare.address).replaceAll('@NODE_NAME@', bare.name).replaceAll('@CGROUP_ROOT@', bare.cgroupRoot));
      started = performance.now();
      await bare.executor.run(['sh', '-c', bareScript(artifacts, join(configs, 'config.toml'), join(configs, 'kubeadm.yaml'), bare.cgroupRoot)]);
      samples.bare.push(performance.now() - started);
      await lab.removeNode(bare.name);
      process.stderr.write(`standalone, round ${String(round + 1)}: tracelab ${Math.round(samples.tracelab[round] ?? 0)} ms, bare ${Math.round(samples.bare[round] ?? 0)} ms, no-change re-run ${Math.round(samples.noChangeRerun[round] ?? 0)} ms\n`);
    }
  } finally {
    await lab.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  const summary = (of: { tracelab: number[]; bare: number[]; noChangeRerun: number[] }) => ({
    ratio: Number((median(of.tracelab) / median(of.bare)).toFixed(3)),
    noChangeRerunMs: Math.round(median(of.noChangeRerun)),
    mediansMs: { tracelab: Math.round(median(of.tracelab)), bare: Math.round(median(of.bare)) },
    samplesMs: Object.fromEntries(Object.entries(of).map(([key, values]) => [key, values.map(Math.round)])),
  });
  const three = summary(labSamples);
  const standalone = summary(samples);
  const result = {
    benchmark: 'bootstrap',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length },
    nodes: 3,
    ratio: three.ratio,
    noChangeRerunMs: three.noChangeRerunMs,
    targets: { ratio: 1.15, noChangeRerunMs: 10_000 },
    mediansMs: three.mediansMs,
    samplesMs: three.samplesMs,
    standalone: { nodes: 1, ...standalone },
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bootstrap-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const line = (what: string, of: typeof three): string =>
    `${what}, medians of ${String(rounds)} rounds: tracelab ${String(of.mediansMs.tracelab)} ms, bare ${String(of.mediansMs.bare)} ms, ratio ${String(of.ratio)} (target ≤ 1.15 ${of.ratio <= 1.15 ? 'met' : 'NOT met'}); no-change re-run ${String(of.noChangeRerunMs)} ms (target ≤ 10 s ${of.noChangeRerunMs <= 10_000 ? 'met' : 'NOT met'})\n`;
  process.stdout.write(`${line('three nodes', three)}${line('standalone', standalone)}wrote ${file}\n`);
}

await main();
