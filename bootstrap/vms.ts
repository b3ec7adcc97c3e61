import { Document } from 'yaml';
import { UserError } from '../core/errors.ts';
import type { HostRole } from './inventory.ts';

/** One VM as the Vagrantfile defines it (TRACELAB_VM_PLAN_FILE). */
export interface VagrantMachine {
  readonly name: string;
  /** Its private network address: the one the other nodes and tracelab reach it on. */
  readonly address: string;
  readonly role: 'control-plane' | 'worker';
}

/** One `Host` block of `vagrant ssh-config`. */
export interface SshConfigHost {
  readonly host: string;
  /** Keys lower-cased; IdentityFile may repeat, hence lists. */
  readonly options: Readonly<Record<string, readonly string[]>>;
}

/** The inventory file's shape (bootstrap/inventory.ts validates it). */
export interface VagrantInventory {
  readonly cni: 'flannel';
  readonly contextName: string;
  readonly hosts: readonly {
    readonly name: string;
    readonly address: string;
    readonly roles: readonly HostRole[];
    readonly ssh: { readonly user: string; readonly port: number; readonly identityFile?: string };
    readonly labels: Readonly<Record<string, string>>;
  }[];
}

export const vagrantContextName = 'tracelab-vagrant';

/** Reads the machine list the Vagrantfile wrote; `file` names it in messages. */
export function parseVagrantPlan(text: string, file: string): readonly VagrantMachine[] {
  const broken = (why: string): never => {
    throw new UserError(`${file}: ${why} — use tracelab's Vagrantfile (bootstrap/vagrant/Vagrantfile), or one that writes its machines to TRACELAB_VM_PLAN_FILE the same way`);
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    broken('not JSON');
  }
  const machines = (value as { machines?: unknown } | null)?.machines;
  if (!Array.isArray(machines) || machines.length === 0) return broken('lists no machines');
  return machines.map((entry: unknown, index): VagrantMachine => {
    const { name, address, role } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || typeof address !== 'string' || (role !== 'control-plane' && role !== 'worker')) {
      return broken(`machines[${index}] needs a name, an address and a role (control-plane or worker)`);
    }
    return { name, address, role };
  });
}

/** Splits `vagrant ssh-config` output into its Host blocks. */
export function parseSshConfig(text: string): readonly SshConfigHost[] {
  const hosts: { host: string; options: Record<string, string[]> }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (match === null) continue;
    const key = (match[1] ?? '').toLowerCase();
    const value = unquote((match[2] ?? '').trim());
    if (key === 'host') {
      hosts.push({ host: value, options: {} });
      continue;
    }
    const current = hosts.at(-1);
    if (current === undefined) continue;
    (current.options[key] ??= []).push(value);
  }
  return hosts;
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/**
 * The lab's inventory from the Vagrantfile's machines and `vagrant ssh-config`: user and key from
 * ssh-config, the address from the private network. ssh-config's HostName:Port is the NAT port
 * forward (127.0.0.1:2222) or libvirt's management address, which other nodes cannot reach.
 */
export function vagrantInventory(machines: readonly VagrantMachine[], sshConfig: string, dir: string): VagrantInventory {
  const blocks = parseSshConfig(sshConfig);
  const hasWorker = machines.some((machine) => machine.role === 'worker');
  const hosts = machines.map((machine) => {
    const block = blocks.find((candidate) => candidate.host === machine.name);
    if (block === undefined) {
      throw new UserError(`vagrant ssh-config in ${dir} lists no machine ${machine.name} (it lists ${blocks.map((b) => b.host).join(', ') || 'none'}) — run \`vagrant up ${machine.name}\` there, or \`tracelab vms up\` again`);
    }
    const option = (key: string): string | undefined => block.options[key]?.[0];
    const port = option('hostname') === machine.address ? Number(option('port') ?? 22) : 22;
    const identityFile = option('identityfile');
    const roles: HostRole[] = machine.role === 'worker' ? ['worker'] : hasWorker ? ['control-plane'] : ['control-plane', 'worker'];
    return {
      name: machine.name,
      address: machine.address,
      roles,
      ssh: { user: option('user') ?? 'vagrant', port, ...(identityFile === undefined ? {} : { identityFile }) },
      labels: { 'tracelab.dev/profile': machine.role },
    };
  });
  return { cni: 'flannel', contextName: vagrantContextName, hosts };
}

/** The inventory file's text, headed by where it came from. */
export function renderVagrantInventory(inventory: VagrantInventory, dir: string): string {
  const document = new Document(inventory);
  document.commentBefore = [
    ` Generated by \`tracelab vms up\` from the Vagrantfile in ${dir} and \`vagrant ssh-config\`:`,
    ' re-run it rather than editing this file. Hosts are reached on their private addresses.',
  ].join('\n');
  return document.toString();
}

/** A machine's progress in `vagrant up`/`destroy` output (`==> cp1: Booting VM...`); undefined for other lines. */
export function vagrantProgress(line: string): { readonly machine: string; readonly message: string } | undefined {
  const match = /^==> ([\w.-]+): (.+)$/.exec(line.trimEnd());
  return match === null ? undefined : { machine: match[1] ?? '', message: match[2] ?? '' };
}

/** vagrant's error output as one line: each distinct message once, without its parallel-run boilerplate. */
export function vagrantError(stderr: string): string {
  const paragraphs = stderr
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('==> ')).join(' '))
    .filter((paragraph) => paragraph !== '' && !/^An error occurred while executing (multiple actions in parallel|the action on the '[^']*' machine)\b/.test(paragraph));
  const message = [...new Set(paragraphs)].join(' ');
  if (message === '') return 'no message';
  return message.length > 600 ? `${message.slice(0, 600)}…` : message;
}
