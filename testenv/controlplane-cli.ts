/**
 * A local Kubernetes control plane for development and tests (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok fake nodes), all on loopback.
 *
 *   node testenv/controlplane-cli.ts up --nodes 3 [--dir D]   # prints the kubeconfig path
 *   node testenv/controlplane-cli.ts down [--dir D]
 *
 * The processes keep running after `up` returns; `down` ends exactly the pids in D/pids.json.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane, stopControlPlane } from './controlplane.ts';

const DEFAULT_DIR = '.tracelab/controlplane';
const USAGE = 'usage: node testenv/controlplane-cli.ts up [--nodes N] [--dir D] | down [--dir D]';

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      nodes: { type: 'string', default: '1' },
      dir: { type: 'string', default: DEFAULT_DIR },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || rest.length > 0) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const dir = path.resolve(values.dir);
  switch (command) {
    case 'up': {
      const nodes = Number(values.nodes);
      if (!Number.isInteger(nodes) || nodes < 0) throw new Error(`--nodes must be a whole number, got '${values.nodes}'`);
      const started = Date.now();
      const plane = await startControlPlane({
        nodes,
        dir,
        detached: true,
        onStatus: (message) => { console.log(`==> ${message}`); },
      });
      console.log(` ✓ control plane ready in ${((Date.now() - started) / 1000).toFixed(1)}s: ${plane.server}, ${nodes} node(s)`);
      console.log(`export KUBECONFIG=${plane.kubeconfig}`);
      return;
    }
    case 'down': {
      const { stopped } = await stopControlPlane(dir);
      console.log(` ✓ stopped ${stopped.map((p) => `${p.name} (pid ${p.pid})`).join(', ') || 'nothing (no process was running)'}; removed ${dir}`);
      return;
    }
    default:
      throw new Error(`unknown command '${command}': ${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`\x1b[31mcontrolplane: ${err instanceof Error ? err.message : String(err)}\x1b[0m`);
  process.exitCode = 1;
});
