import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../../testenv/components.ts';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
const images = 'frontend=registry.invalid/f:1,backend=registry.invalid/b:1';

describe('tracelab deploy demo', () => {
  it('without --images builds in the cluster, but checks every flag first: one line, exit 2, before any cluster is contacted', () => {
    const cases: [string[], RegExp][] = [
      [['--builder', 'docker'], /^✗ --builder 'docker' is not a builder tracelab knows: pass --builder buildkit or --builder kaniko$/],
      [['--buildkit-mode', 'rootfull'], /^✗ --buildkit-mode 'rootfull' is not a mode: pass rootless, privileged or auto$/],
      [['--builder', 'kaniko', '--buildkit-mode', 'rootless'], /^✗ --buildkit-mode goes with --builder buildkit, not kaniko: drop it$/],
      [['--replicas', '0'], /^✗ --replicas '0' must be an integer from 1 to 20$/],
      [['--artifacts', '/nonexistent'], /^✗ \/nonexistent has no images\/node-base\.tar: make it with `tracelab artifacts build --out \/nonexistent`$/],
      [['--artifacts', '/nonexistent', '--node-image', 'example.com/node:24'], /^✗ --artifacts and --node-image both choose the base image: pass one of them$/],
      [['--registry', 'team/tracelab'], /^✗ --registry 'team\/tracelab' does not start with a registry host \('team' would be a Docker Hub repository\): start it with the host, and the port if not 443 — e\.g\. --registry registry\.example\.com:5000\/team\/tracelab$/],
      [['--registry', 'https://registry.example.com/team'], /^✗ --registry 'https:\/\/registry\.example\.com\/team' has a scheme: leave out https:\/\//],
      [['--registry-insecure'], /^✗ --registry-insecure goes with --registry REF: it says that registry speaks plain HTTP$/],
      [['--pull-secret', 'creds'], /^✗ --pull-secret goes with --registry REF \(the lab registry takes no credentials\) or with --images: pass the registry the images go to$/],
      [['--registry', 'registry.example.com/t', '--pull-secret', 'Creds'], /^✗ --pull-secret 'Creds' is not a Secret name/],
      [['--images', images, '--registry', 'registry.example.com/t'], /^✗ --registry is where deploy:demo pushes the images it builds: with prebuilt --images, leave it out$/],
    ];
    for (const [args, message] of cases) {
      const result = run('--kubeconfig', '/nonexistent/kubeconfig', 'deploy', 'demo', ...args);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr.trim(), message);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
  });

  it('rejects a bad --timeout before touching the cluster', () => {
    const result = run('--kubeconfig', '/nonexistent', 'deploy', 'demo', '--images', images, '--timeout', 'soon');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--timeout 'soon' is not a duration/);
  });

  it('names a missing kubeconfig', () => {
    const result = run('--kubeconfig', '/nonexistent/kubeconfig', 'deploy', 'demo', '--images', images);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /kubeconfig \/nonexistent\/kubeconfig does not exist/);
  });

  it('names an unknown context', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracelab-kubeconfig-'));
    try {
      const kubeconfig = join(dir, 'config');
      writeFileSync(kubeconfig, kubeconfigFor('https://127.0.0.1:1'));
      const result = run('--kubeconfig', kubeconfig, '--context', 'prod', 'deploy', 'demo', '--images', images);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /kubeconfig has no context 'prod' \(it has: lab\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says in one line that the API cannot be reached, after bounded retries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracelab-kubeconfig-'));
    try {
      const kubeconfig = join(dir, 'config');
      const port = await freePort();
      writeFileSync(kubeconfig, kubeconfigFor(`https://127.0.0.1:${port}`));
      const result = run('--kubeconfig', kubeconfig, 'deploy', 'demo', '--images', images);
      assert.equal(result.status, 4);
      assert.match(result.stderr, new RegExp(`cannot reach the Kubernetes API at https://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(gave up after 5 attempts`));
      assert.match(result.stderr, /check that the cluster is up and --kubeconfig\/--context point at it/);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tracelab render demo', () => {
  it('writes the YAML files without a cluster', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracelab-render-'));
    try {
      const result = run('render', 'demo', '--out', dir, '--images', images);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stderr, /demo: wrote 19 files to/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function kubeconfigFor(server: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'lab', user: { token: 'not-a-secret' } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }],
    'current-context': 'lab',
  });
}
