import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { StopWaiting, waitFor } from '../components.ts';
import type { ManagedProcess } from '../processes.ts';
import type { Lab } from './lab.ts';
import type { TestNode } from './node.ts';
import { namespaceOf } from './node-processes.ts';
import { SSHD } from './requirements.ts';

/** An sshd in a test node, and what a client needs to reach it. */
export interface NodeSshd {
  /** The node's name (for SshTarget.host). */
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly user: 'root';
  /** The lab's client key, authorized for root. */
  readonly identityFile: string;
  /** This sshd's host key as a known_hosts line, e.g. "[10.251.0.10]:2222 ssh-ed25519 AAAA…". */
  readonly knownHostsLine: string;
  readonly process: ManagedProcess;
  /**
   * Ends the listening sshd only: connections already made keep their own sshd processes, as
   * when a host's ssh service is stopped. Lab teardown ends everything in the node.
   */
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** @default 22 */
  readonly port?: number;
}

const sh = $({ quiet: true });
const clientKeys = new Map<string, Promise<string>>();

/**
 * Starts OpenSSH's sshd in the node, listening on the node's lab address only, with a host key of
 * its own (new on every start: start again on the same port to play a reinstalled host) and the
 * lab's client key authorized for root. It runs in the foreground as a node process, so the
 * lab's teardown stops it; its files live in the node's directory and go with it.
 *
 *   const sshd = await startSshd(lab, node);
 *   const remote = sshExecutor({ host: sshd.host, address: sshd.address, user: sshd.user, port: sshd.port,
 *     identityFile: sshd.identityFile }, { acceptNewHostKeys: true, knownHostsFile, controlDir });
 */
export async function startSshd(lab: Lab, node: TestNode, options: SshdOptions = {}): Promise<NodeSshd> {
  const port = options.port ?? 22;
  const identityFile = await labClientKey(lab);
  const dir = path.join(node.dir, `sshd-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir, { mode: 0o700 });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  const hostPublicKey = await generateSshKey(hostKey, `${node.name} host key`);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${identityFile}.pub`), { mode: 0o600 });
  const config = path.join(dir, 'sshd_config');
  writeFileSync(config, [
    `ListenAddress ${node.address}:${port}`,
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // no PAM session, lastlog or motd: nothing written to the host's shared /var/log
    'UsePAM no',
    'PrintMotd no',
    'PrintLastLog no',
    // the keys live in the test's directory, not in ~root/.ssh
    'StrictModes no',
    'PidFile none',
    'MaxStartups 100',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n'), { mode: 0o600 });

  const logFile = path.join(node.dir, 'logs', 'sshd.log');
  const logOffset = existsSync(logFile) ? statSync(logFile).size : 0;
  const sshd = node.start({ name: 'sshd', command: SSHD, args: ['-D', '-e', '-f', config] });
  const listening = `Server listening on ${node.address} port ${port}.`;
  try {
    await waitFor(`sshd on ${node.name} (${node.address}:${port})`, () => {
      const status = sshd.exitStatus();
      if (status !== undefined) throw new StopWaiting(`sshd ${status}: ${readFileSync(logFile, 'utf8').slice(logOffset).trim()}`);
      return readFileSync(logFile, 'utf8').slice(logOffset).includes(listening) ? true : undefined;
    }, { deadlineMs: 10_000, intervalMs: 20 });
    // the hazard: nothing of the lab may listen in the machine's own network namespace
    const network = namespaceOf(sshd.pid, 'net');
    if (network === undefined || network === namespaceOf(process.pid, 'net') || network !== `net:[${statSync(node.netns).ino}]`) {
      throw new Error(`sshd (pid ${sshd.pid}) is not in node ${node.name}'s network namespace (${network ?? 'gone'})`);
    }
  } catch (err) {
    await sshd.stop(1_000);
    throw err;
  }
  const keyName = port === 22 ? node.address : `[${node.address}]:${port}`;
  return {
    host: node.name,
    address: node.address,
    port,
    user: 'root',
    identityFile,
    knownHostsLine: `${keyName} ${hostPublicKey.split(' ').slice(0, 2).join(' ')}`,
    process: sshd,
    stop: () => sshd.stop(2_000),
  };
}

/** The lab's client key (made on first use, in the lab's directory): its private key file. */
export function labClientKey(lab: Lab): Promise<string> {
  let key = clientKeys.get(lab.dir);
  if (key === undefined) {
    key = (async () => {
      const dir = path.join(lab.dir, 'ssh');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, 'id_ed25519');
      if (!existsSync(file)) await generateSshKey(file, `tracelab lab ${lab.id}`);
      return file;
    })();
    clientKeys.set(lab.dir, key);
  }
  return key;
}

/** A new ed25519 key pair without passphrase at `file` (+ .pub); returns the public key line. */
export async function generateSshKey(file: string, comment: string): Promise<string> {
  await sh`ssh-keygen -q -t ed25519 -N ${''} -C ${comment} -f ${file}`;
  return readFileSync(`${file}.pub`, 'utf8').trim();
}
