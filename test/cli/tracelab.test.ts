import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../cli/tracelab.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('tracelab CLI', () => {
  it('lists its commands with --help', () => {
    const result = run('--help');
    assert.equal(result.status, 0);
    for (const command of ['bootstrap', 'verify', 'ui', 'loadtest']) assert.match(result.stdout, new RegExp(`\\b${command}\\b`));
  });

  it('bootstrap --inventory: a missing file, or a single-host flag beside it, is one line and exit 2 before any host is contacted', () => {
    const missing = run('bootstrap', '--inventory', '/nonexistent/lab.yaml');
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /\/nonexistent\/lab\.yaml/);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    const mixed = run('bootstrap', '--inventory', '/nonexistent/lab.yaml', '--pod-subnet', '10.0.0.0/16');
    assert.equal(mixed.status, 2, mixed.stderr);
    assert.match(mixed.stderr, /--pod-subnet describes a single host: with --inventory, set podSubnet in \/nonexistent\/lab\.yaml instead/);
  });

  for (const [args, message] of [
    [['loadtest'], /name a scenario: tracelab loadtest runs smoke, ramp, spike, soak/],
    [['loadtest', 'nosuch'], /unknown scenario 'nosuch'/],
    [['loadtest', 'ramp', '--runner', 'jmeter'], /--runner 'jmeter' is not a runner tracelab has/],
    [['loadtest', 'ramp', '--runner', 'node', '--target', 'ftp://x'], /--target 'ftp:\/\/x' must be an http:\/\/ or https:\/\/ URL/],
  ] as const) {
    it(`'${args.join(' ')}' is one line and exit 2 before any cluster is contacted`, () => {
      const result = run('--kubeconfig', '/nonexistent/kubeconfig', ...args);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    });
  }

  for (const namespace of ['monitoring', 'jaeger']) {
    it(`refuses deploy demo --namespace ${namespace} (another layer's) before talking to any cluster`, () => {
      const result = run('--kubeconfig', '/nonexistent/kubeconfig', 'deploy', 'demo', '--images', 'frontend=r.invalid/f:1,backend=r.invalid/b:1', '--namespace', namespace);
      assert.equal(result.status, 2, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`namespace '${namespace}' belongs to layer monitoring: layer demo relabels its namespace and deletes it on teardown — choose another --namespace`));
    });
  }

  // client-node takes about half a second to load: only commands that talk to a cluster pay it.
  const loadsClientNode = `import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) {
  if (specifier === '@kubernetes/client-node') process.stderr.write('loaded @kubernetes/client-node\\n');
  return next(specifier, context);
} });`;
  for (const [args, status] of [[['--help'], 0], [['verify', '--requests', '0'], 2], [['render', 'demo', '--help'], 0]] as const) {
    it(`does not load client-node for '${args.join(' ')}'`, () => {
      const result = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(loadsClientNode)}`, cli, ...args], { encoding: 'utf8' });
      // The command ran to its usual end: a CLI that crashed early would load nothing either.
      assert.equal(result.status, status, result.stderr);
      assert.doesNotMatch(result.stderr, /loaded @kubernetes\/client-node/);
    });
  }

  it('loads client-node for a command that talks to a cluster', () => {
    const result = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(loadsClientNode)}`, cli, '--kubeconfig', '/nonexistent/kubeconfig', 'teardown', 'demo'], { encoding: 'utf8' });
    assert.match(result.stderr, /loaded @kubernetes\/client-node/);
    assert.match(result.stderr, /kubeconfig \/nonexistent\/kubeconfig does not exist/);
  });

  it('rejects an unknown command with a non-zero exit', () => {
    const result = run('frobnicate');
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /unknown command 'frobnicate'/);
  });

  for (const command of ['verify', 'status']) {
    it(`${command} only reads: the first Ctrl-C ends it (exit 130), even while the API server keeps it waiting`, async () => {
      // An API server that accepts connections and never answers.
      const held: Socket[] = [];
      const server = createServer((socket) => held.push(socket));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      const dir = mkdtempSync(join(tmpdir(), 'tracelab-cli-'));
      try {
        const kubeconfig = join(dir, 'kubeconfig');
        writeFileSync(
          kubeconfig,
          `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:${String(port)}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n`,
          { mode: 0o600 },
        );
        const child = spawn(process.execPath, [cli, '--kubeconfig', kubeconfig, command], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        child.kill('SIGINT');
        const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const [code] = (await once(child, 'exit')) as [number | null];
        clearTimeout(killer);
        assert.equal(code, 130, stderr);
        assert.match(stderr, /interrupted \(nothing was changed\)/);
      } finally {
        for (const socket of held) socket.destroy();
        server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('rejects contradicting verbosity flags in one line', () => {
    const result = run('-v', '-q', 'verify');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--verbose and --quiet contradict/);
  });
});
