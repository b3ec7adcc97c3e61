import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** Why test nodes cannot be made on this machine, or undefined when they can. */
export function nodeHarnessUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'test nodes need Linux namespaces';
  if (process.getuid?.() !== 0) return 'test nodes need root (network and mount namespaces, a bridge)';
  for (const tool of ['ip', 'nsenter', 'unshare', 'mount', 'sysctl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (Debian: iproute2, util-linux, mount, procps)`;
  }
  const unshare = spawnSync('unshare', ['--net', '--mount', '--uts', 'true'], { encoding: 'utf8' });
  if (unshare.status !== 0) return `cannot make namespaces here: unshare: ${unshare.stderr.trim() || `exit ${String(unshare.status)}`}`;
  return undefined;
}

/**
 * For node:test: true when test nodes can be made; otherwise marks the test skipped with the
 * reason, or fails it under CI=true (CI must run every integration test).
 */
export function requireNodeHarness(t: TestContext): boolean {
  return skipUnless(t, nodeHarnessUnavailable());
}

/** Why an sshd cannot run in a test node here (the harness itself included), or undefined. */
export function sshdUnavailable(): string | undefined {
  const harness = nodeHarnessUnavailable();
  if (harness !== undefined) return harness;
  if (spawnSync(SSHD, ['-V']).error !== undefined) return `${SSHD} is not installed (Debian: openssh-server)`;
  for (const tool of ['ssh', 'ssh-keygen']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (Debian: openssh-client)`;
  }
  // sshd drops privileges to this user before authentication
  if (spawnSync('getent', ['passwd', 'sshd']).status !== 0) return 'the user sshd is missing (Debian: reinstall openssh-server)';
  return undefined;
}

/** requireNodeHarness for tests that also need sshd in their nodes. */
export function requireSshd(t: TestContext): boolean {
  return skipUnless(t, sshdUnavailable());
}

/** OpenSSH's server; it re-executes itself, so it must be started by its absolute path. */
export const SSHD = '/usr/sbin/sshd';

function skipUnless(t: TestContext, reason: string | undefined): boolean {
  if (reason === undefined) return true;
  if (process.env.CI === 'true') throw new Error(reason);
  t.skip(reason);
  return false;
}
