// The SSH executor against OpenSSH's sshd in real test nodes (own network and mount namespaces on a
// private lab segment): commands, quoting, files, one multiplexed connection, host keys, keys, and
// a connection cut mid-command.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { $ } from 'zx';
import { CommandFailed } from '../../../bootstrap/executors/executor.ts';
import { SshConnectionFailed, sshExecutor, type SshExecutor, type SshOptions, type SshTarget } from '../../../bootstrap/executors/ssh.ts';
import { StopWaiting, waitFor } from '../../../testenv/components.ts';
import { createLab, type Lab } from '../../../testenv/nodes/lab.ts';
import { NODE_INTERFACE } from '../../../testenv/nodes/network.ts';
import type { TestNode } from '../../../testenv/nodes/node.ts';
import { namespaceOf, processesOfNode } from '../../../testenv/nodes/node-processes.ts';
import { requireSshd, sshdUnavailable } from '../../../testenv/nodes/requirements.ts';
import { generateSshKey, startSshd, type NodeSshd } from '../../../testenv/nodes/sshd.ts';

const sh = $({ quiet: true });

/** Established TCP connections from this machine to the sshd. */
async function connectionsTo(sshd: NodeSshd): Promise<number> {
  const out = await sh`ss -Htn state established dst ${`${sshd.address}:${sshd.port}`}`;
  return out.stdout.split('\n').filter((line) => line.trim() !== '').length;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof Error, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

function assertOneLine(err: Error, sshd: NodeSshd, pattern: RegExp): void {
  assert.ok(err instanceof SshConnectionFailed, `${err.name}: ${err.message}`);
  assert.equal(err.host, sshd.host);
  assert.doesNotMatch(err.message, /\n/);
  assert.ok(err.message.startsWith(`${sshd.host} (root@${sshd.address}:${sshd.port}): SSH connection failed: `), err.message);
  assert.match(err.message, pattern);
}

describe('sshExecutor against sshd in a test node', () => {
  let lab: Lab | undefined;
  let node: TestNode | undefined;
  let sshd: NodeSshd | undefined;
  // short: the control sockets live in here
  const work = mkdtempSync('/tmp/tlssh-');
  const trusted = path.join(work, 'known_hosts');
  const executors: SshExecutor[] = [];

  const target = (server: NodeSshd, identityFile = server.identityFile): SshTarget => ({
    host: server.host, address: server.address, user: server.user, port: server.port, identityFile,
  });
  /** A new executor with its own control directory (its own master connection). */
  const connect = (server: NodeSshd, options: Partial<SshOptions> & { identityFile?: string } = {}): SshExecutor => {
    const executor = sshExecutor(target(server, options.identityFile), {
      acceptNewHostKeys: false,
      knownHostsFile: trusted,
      sshConfigFile: '/dev/null',
      ...options,
      controlDir: mkdtempSync(path.join(work, 'c')),
    });
    executors.push(executor);
    return executor;
  };

  before(async () => {
    if (sshdUnavailable() !== undefined) return;
    lab = await createLab({ purpose: 'test/bootstrap/executors/ssh.test.ts' });
    node = await lab.addNode('n1');
    const started = Date.now();
    sshd = await startSshd(lab, node);
    console.log(`# sshd on ${node.name} (${sshd.address}:${sshd.port}) ready in ${Date.now() - started} ms`);
    writeFileSync(trusted, `${sshd.knownHostsLine}\n`);
  });

  after(async () => {
    for (const executor of executors) await executor.close();
    await lab?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs in the node only: nothing listens in the machine\'s own network namespace', async (t) => {
    if (!requireSshd(t) || node === undefined || sshd === undefined) return;
    assert.notEqual(namespaceOf(sshd.process.pid, 'net'), namespaceOf(process.pid, 'net'));
    const listening = await sh`ss -Hltn ${`sport = :${sshd.port}`}`;
    assert.equal(listening.stdout.trim(), '', `a listener on port ${sshd.port} in the machine's namespace`);
    const inNode = await node.executor.run(['ss', '-Hltn', `sport = :${sshd.port}`]);
    assert.match(inNode.stdout, new RegExp(`${sshd.address.replaceAll('.', '\\.')}:${sshd.port} `));
  });

  it('runs a command: stdout, stderr and exit code; throws CommandFailed unless nothrow', async (t) => {
    if (!requireSshd(t) || sshd === undefined) return;
    const remote = connect(sshd);
    let started = Date.now();
    assert.equal((await remote.run(['hostname'])).stdout, 'n1\n');
    const setupMs = Date.now() - started;
    started = Date.now();
    for (let i = 0; i < 10; i++) await remote.run(['true']);
    console.log(`# first command (connection set up) ${setupMs} ms, then ${(Date.now() - started) / 10} ms per command`);

    const result = await remote.run(['sh', '-c', 'echo out; echo err >&2; exit 7'], { nothrow: true });
    assert.deepEqual(result, { stdout: 'out\n', stderr: 'err\n', exitCode: 7 });
    const failed = await rejection(remote.run(['sh', '-c', 'echo "no such thing" >&2; exit 3']));
    assert.ok(failed instanceof CommandFailed, failed.message);
    assert.equal(failed.host, 'n1');
    assert.equal(failed.result.exitCode, 3);
    assert.match(failed.message, /^n1: `sh -c .*` exited 3: no such thing$/);
    // a command's own 255 is not a connection failure
    assert.equal((await remote.run(['sh', '-c', 'exit 255'], { nothrow: true })).exitCode, 255);
    assert.equal((await remote.run(['cat'], { input: 'through stdin\n' })).stdout, 'through stdin\n');
  });

  it('passes every word intact: no remote shell injection', async (t) => {
    if (!requireSshd(t) || node === undefined || sshd === undefined) return;
    const remote = connect(sshd);
    const marker = '/var/lib/tracelab/injected';
    const words = ['a b', "it's", '"double"', '$HOME', '$(touch /var/lib/tracelab/injected)', '`id`', `x; touch ${marker}`, '*', '', 'new\nline', 'back\\slash', '-n', '&& true |'];
    const out = await remote.run(['printf', '%s\\0', ...words]);
    assert.deepEqual(out.stdout.split('\0').slice(0, -1), words);
    const env = await remote.run(['sh', '-c', 'printf %s "$VALUE"'], { env: { VALUE: "it's $HOME; `id`" } });
    assert.equal(env.stdout, "it's $HOME; `id`");
    assert.equal(await node.executor.readFile(marker), undefined);
  });

  it('writes a file atomically with its mode, reads it back, and reads a missing file as undefined', async (t) => {
    if (!requireSshd(t) || node === undefined || sshd === undefined) return;
    const remote = connect(sshd);
    const dir = '/var/lib/tracelab/ssh test';
    const file = `${dir}/sub/it's.conf`;
    const content = 'line one\n$HOME `id` \'quoted\' "double"\nünïcödé\n\nno newline at the end';
    await remote.writeFile(file, content, 0o600);
    assert.equal(await remote.readFile(file), content);
    assert.equal((await node.executor.run(['stat', '-c', '%a %U', file])).stdout, '600 root\n');
    await remote.writeFile(file, 'replaced\n', 0o644);
    assert.equal(await remote.readFile(file), 'replaced\n');
    assert.equal((await node.executor.run(['stat', '-c', '%a', file])).stdout, '644\n');
    assert.deepEqual((await node.executor.run(['ls', '-A', `${dir}/sub`])).stdout, "it's.conf\n", 'no temporary file left');
    await remote.writeFile(`${dir}/empty`, '');
    assert.equal(await remote.readFile(`${dir}/empty`), '');
    assert.equal(await remote.readFile(`${dir}/missing`), undefined);
    assert.ok((await rejection(remote.readFile(dir))) instanceof CommandFailed, 'a directory is an error, not a missing file');
  });

  it('shares one connection among all commands, also concurrent ones', async (t) => {
    if (!requireSshd(t) || sshd === undefined) return;
    const server = sshd;
    const remote = connect(server);
    const before = await connectionsTo(server);
    await remote.run(['true']);
    await Promise.all(Array.from({ length: 8 }, (_, i) => remote.run(['sh', '-c', `sleep 0.2; echo ${i}`])));
    await remote.writeFile('/var/lib/tracelab/one-connection', 'x');
    await remote.readFile('/var/lib/tracelab/one-connection');
    assert.equal(await remote.masterRunning(), true);
    assert.equal(await connectionsTo(server), before + 1);
  });

  it('refuses an unknown host key in one line naming --accept-new-host-keys; accepts and records it when asked', async (t) => {
    if (!requireSshd(t) || sshd === undefined) return;
    const knownHosts = path.join(work, 'known_hosts.new');
    const refused = await rejection(connect(sshd, { knownHostsFile: knownHosts }).run(['true']));
    assertOneLine(refused, sshd, /host key is known for .* — .*--accept-new-host-keys/);

    await connect(sshd, { knownHostsFile: knownHosts, acceptNewHostKeys: true }).run(['true']);
    const recorded = await sh`ssh-keygen -F ${sshd.address} -f ${knownHosts}`;
    assert.ok(recorded.stdout.includes(sshd.knownHostsLine.split(' ').slice(1).join(' ')), recorded.stdout);
    await connect(sshd, { knownHostsFile: knownHosts }).run(['true']);
  });

  it('refuses a changed host key, also with acceptNewHostKeys, naming ssh-keygen -R', async (t) => {
    if (!requireSshd(t) || lab === undefined || node === undefined) return;
    const first = await startSshd(lab, node, { port: 2222 });
    const knownHosts = path.join(work, 'known_hosts.changed');
    writeFileSync(knownHosts, `${first.knownHostsLine}\n`);
    await connect(first, { knownHostsFile: knownHosts }).run(['true']);
    await first.stop();
    const reinstalled = await startSshd(lab, node, { port: 2222 });
    try {
      for (const acceptNewHostKeys of [false, true]) {
        const refused = await rejection(connect(reinstalled, { knownHostsFile: knownHosts, acceptNewHostKeys }).run(['true']));
        assertOneLine(refused, reinstalled, /Host key for \[.*\]:2222 has changed.* — .*ssh-keygen -R '\[.*\]:2222'/);
      }
    } finally {
      await reinstalled.stop();
    }
  });

  it('reports a key the host refuses, and a port nobody listens on', async (t) => {
    if (!requireSshd(t) || sshd === undefined) return;
    const wrongKey = path.join(work, 'not-authorized');
    await generateSshKey(wrongKey, 'not authorized');
    const denied = await rejection(connect(sshd, { identityFile: wrongKey }).run(['true']));
    assertOneLine(denied, sshd, new RegExp(`Permission denied \\(publickey\\)\\. — .*user root.*${wrongKey}`));

    const nobody = { ...sshd, port: 2223 };
    const refused = await rejection(connect(nobody).run(['true']));
    assertOneLine(refused, nobody, /Connection refused — .*sshd/);
  });

  it('close() ends the master connection; the next command opens a new one', async (t) => {
    if (!requireSshd(t) || sshd === undefined) return;
    const server = sshd;
    const remote = connect(server);
    const before = await connectionsTo(server);
    await remote.run(['true']);
    assert.equal(await remote.masterRunning(), true);
    await remote.close();
    assert.equal(await remote.masterRunning(), false);
    await waitFor('the connection to close', async () => ((await connectionsTo(server)) === before ? true : undefined), { deadlineMs: 5_000, intervalMs: 50 });
    await remote.close();
    assert.equal((await remote.run(['echo', 'again'])).stdout, 'again\n');
  });

  describe('a connection cut mid-command', () => {
    let cut: TestNode | undefined;
    let server: NodeSshd | undefined;

    before(async () => {
      if (lab === undefined) return;
      cut = await lab.addNode('cut');
      server = await startSshd(lab, cut);
      writeFileSync(trusted, `${server.knownHostsLine}\n`, { flag: 'a' });
    });

    /** Starts a long command and resolves once it runs in the node. */
    const longCommand = async (remote: SshExecutor): Promise<{ outcome: Promise<Error>; since: number }> => {
      const flag = `/var/lib/tracelab/started-${Date.now()}`;
      let ended: string | undefined;
      const outcome = rejection(remote.run(['sh', '-c', `touch ${flag}; exec sleep 60`]));
      void outcome.then((err) => { ended = err.message; });
      await waitFor('the long command to start', async () => {
        if (ended !== undefined) throw new StopWaiting(`it ended: ${ended}`);
        return (await cut?.executor.readFile(flag)) ?? undefined;
      }, { deadlineMs: 10_000, intervalMs: 50 });
      return { outcome, since: Date.now() };
    };

    it('when the link goes down: an error naming the host within the keepalive time', async (t) => {
      if (!requireSshd(t) || cut === undefined || server === undefined) return;
      const remote = connect(server, { keepAlive: { intervalSeconds: 1, count: 3 } });
      const { outcome, since } = await longCommand(remote);
      await cut.executor.run(['ip', 'link', 'set', NODE_INTERFACE, 'down']);
      try {
        const err = await outcome;
        const ms = Date.now() - since;
        console.log(`# link down noticed in ${ms} ms (keepalive 1 s × 3)`);
        assertOneLine(err, server, /connection was cut while `sh -c .*` ran — check that the host is up/);
        assert.ok(ms < 10_000, `noticed after ${ms} ms`);
      } finally {
        await cut.executor.run(['ip', 'link', 'set', NODE_INTERFACE, 'up']);
      }
      assert.equal(await remote.masterRunning(), false);
    });

    it('when the host ends the connection: an error naming the host at once', async (t) => {
      if (!requireSshd(t) || cut === undefined || server === undefined) return;
      const listener = server.process.pid;
      const remote = connect(server);
      const { outcome, since } = await longCommand(remote);
      const network = namespaceOf(listener, 'net');
      // the connection's own sshd processes (the listener stays)
      const sessions = processesOfNode({ network }).filter((p) => p.command === 'sshd' && p.pid !== listener);
      assert.ok(sessions.length > 0, 'the connection has sshd processes in the node');
      for (const p of sessions) process.kill(p.pid, 'SIGKILL');
      const err = await outcome;
      console.log(`# connection killed on the host side noticed in ${Date.now() - since} ms`);
      assertOneLine(err, server, /connection was cut/);
      assert.ok(Date.now() - since < 5_000);
      assert.equal((await remote.run(['echo', 'reconnected'])).stdout, 'reconnected\n');
    });
  });
});
