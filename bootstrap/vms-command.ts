import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import type { GlobalOptions } from '../core/context.ts';
import { InterruptedError, UserError } from '../core/errors.ts';

type GlobalsOf = (command: Command) => GlobalOptions;

export const vagrantProviders = ['libvirt', 'virtualbox'] as const;
export type VagrantProvider = (typeof vagrantProviders)[number];

/** tracelab's Vagrantfile: one control plane and two workers on 192.168.56.0/24. */
export const defaultVagrantDir = fileURLToPath(new URL('./vagrant', import.meta.url));

export interface VmsOptions {
  /** The Vagrantfile's directory, absolute. */
  readonly dir: string;
  /** Passed to vagrant as it is: PATH, HOME, VAGRANT_* and the Vagrantfile's TRACELAB_VM_*. */
  readonly env: NodeJS.ProcessEnv;
}

export interface VmsUpOptions extends VmsOptions {
  readonly inventoryOut: string;
  readonly provider: VagrantProvider | undefined;
}

/** `tracelab vms up` and `tracelab vms destroy`. */
export function registerVmCommands(program: Command, globals: GlobalsOf): void {
  const vms = program.command('vms').description('local VMs for a multi-node lab, made with Vagrant (libvirt or VirtualBox)');

  vms
    .command('up')
    .description('start the VMs (vagrant up), then write the inventory that reaches them on their private network addresses')
    .option('--dir <dir>', 'the directory of the Vagrantfile (its TRACELAB_VM_* variables set the number and size of the VMs)', defaultVagrantDir)
    .option('--inventory-out <file>', 'where to write the inventory (default: <dir>/inventory.yaml)')
    .addOption(new Option('--provider <name>', "vagrant's provider (default: vagrant's choice, e.g. VAGRANT_DEFAULT_PROVIDER)").choices(vagrantProviders))
    .action(async (flags: { dir: string; inventoryOut?: string; provider?: VagrantProvider }, command: Command) => {
      const global = globals(command);
      const dir = resolve(flags.dir);
      await vmsUp(global, { dir, env: process.env, inventoryOut: resolve(flags.inventoryOut ?? join(dir, 'inventory.yaml')), provider: flags.provider });
    });

  vms
    .command('destroy')
    .description('delete the VMs (vagrant destroy -f); set the same TRACELAB_VM_* variables as for vms up')
    .option('--dir <dir>', 'the directory of the Vagrantfile', defaultVagrantDir)
    .action(async (flags: { dir: string }, command: Command) => {
      await vmsDestroy(globals(command), { dir: resolve(flags.dir), env: process.env });
    });
}

/** Starts the VMs and writes their inventory (0600), validated as `tracelab bootstrap` will read it. */
export async function vmsUp(global: GlobalOptions, options: VmsUpOptions): Promise<void> {
  const { dir, inventoryOut, provider } = options;
  await requireVagrant(options);
  const up = ['up', ...(provider === undefined ? [] : ['--provider', provider])];
  if (global.dryRun) {
    global.output.info(`would run \`vagrant ${up.join(' ')}\` in ${dir}, then write the inventory ${inventoryOut}`);
    return;
  }
  const { parseVagrantPlan, renderVagrantInventory, vagrantInventory } = await import('./vms.ts');
  const { parseInventory } = await import('./inventory.ts');
  const scratch = await mkdtemp(join(tmpdir(), 'tracelab-vms-'));
  try {
    const planFile = join(scratch, 'machines.json');
    const env = { ...options.env, TRACELAB_VM_PLAN_FILE: planFile };
    await global.output.step(`vagrant up in ${dir}`, () => streamVagrant(global, up, { dir, env }));
    let planText: string;
    try {
      planText = await readFile(planFile, 'utf8');
    } catch {
      throw new UserError(`the Vagrantfile in ${dir} did not list its machines in TRACELAB_VM_PLAN_FILE — use tracelab's (bootstrap/vagrant/Vagrantfile), or copy its plan-file lines into yours`);
    }
    const machines = parseVagrantPlan(planText, `${dir}/Vagrantfile's machine list`);
    const sshConfig = await captureVagrant(['ssh-config'], { dir, env });
    const text = renderVagrantInventory(vagrantInventory(machines, sshConfig, dir), dir);
    const lab = parseInventory(text, inventoryOut);
    await mkdir(dirname(inventoryOut), { recursive: true });
    // writeFile's mode applies only to a new file: narrow an existing one before writing.
    await chmod(inventoryOut, 0o600).catch(() => undefined);
    await writeFile(inventoryOut, text, { mode: 0o600 });
    global.output.info(`wrote ${inventoryOut}: ${lab.hosts.map((host) => `${host.name} ${host.address} (${host.roles.join(', ')})`).join(', ')}`);
    global.output.info(`next: tracelab bootstrap --inventory ${inventoryOut} --accept-new-host-keys`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Deletes the VMs; warns about machines the Vagrantfile no longer defines (a smaller TRACELAB_VM_WORKERS). */
export async function vmsDestroy(global: GlobalOptions, options: VmsOptions): Promise<void> {
  const { dir } = options;
  await requireVagrant(options);
  if (global.dryRun) {
    global.output.info(`would run \`vagrant destroy -f\` in ${dir}`);
    return;
  }
  const { parseVagrantPlan } = await import('./vms.ts');
  const scratch = await mkdtemp(join(tmpdir(), 'tracelab-vms-'));
  try {
    const planFile = join(scratch, 'machines.json');
    const env = { ...options.env, TRACELAB_VM_PLAN_FILE: planFile };
    await global.output.step(`vagrant destroy in ${dir}`, () => streamVagrant(global, ['destroy', '-f'], { dir, env }));
    const defined = existsSync(planFile) ? parseVagrantPlan(await readFile(planFile, 'utf8'), planFile).map((machine) => machine.name) : [];
    const left = (await machinesWithState(options)).filter((name) => !defined.includes(name));
    if (left.length > 0) {
      global.output.warn(`${left.join(', ')} may still exist: the Vagrantfile in ${dir} does not define them with the current TRACELAB_VM_* variables — set the ones vms up ran with and run vms destroy again`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function requireVagrant(options: VmsOptions): Promise<void> {
  const { which } = await import('zx');
  if ((await which('vagrant', { nothrow: true, path: options.env.PATH ?? '' })) === null) {
    throw new UserError('vagrant is not installed — install it (Debian/Ubuntu: apt-get install vagrant, plus vagrant-libvirt for libvirt; others: https://developer.hashicorp.com/vagrant/install)');
  }
  if (!existsSync(join(options.dir, 'Vagrantfile'))) {
    throw new UserError(`${options.dir} has no Vagrantfile — pass --dir with the directory of one (default: ${defaultVagrantDir})`);
  }
}

/** Runs vagrant, printing one progress line per machine step (all its output with --verbose). */
async function streamVagrant(global: GlobalOptions, args: readonly string[], options: VmsOptions): Promise<void> {
  const { $ } = await import('zx');
  const { vagrantError, vagrantProgress } = await import('./vms.ts');
  const run = $({ cwd: options.dir, env: options.env, nothrow: true, quiet: true })`vagrant ${args} --no-color`;
  for await (const line of run) {
    const progress = vagrantProgress(line);
    if (progress === undefined) global.output.detail(line);
    else global.output.info(`  ${progress.machine}: ${progress.message}`);
  }
  const result = await run;
  if (result.exitCode === 0) return;
  if (global.signal?.aborted === true) {
    throw new InterruptedError(`stopped during \`vagrant ${args[0] ?? ''}\` in ${options.dir}: VMs it started are still there — run tracelab vms up again to finish, or tracelab vms destroy`);
  }
  throw new UserError(`\`vagrant ${args.join(' ')}\` failed in ${options.dir} (exit ${result.exitCode ?? 'signal'}): ${vagrantError(result.stderr)} — fix that and run it again (VMs that are up stay up; tracelab vms destroy removes them)`);
}

async function captureVagrant(args: readonly string[], options: VmsOptions): Promise<string> {
  const { $ } = await import('zx');
  const { vagrantError } = await import('./vms.ts');
  const result = await $({ cwd: options.dir, env: options.env, nothrow: true, quiet: true })`vagrant ${args} --no-color`;
  if (result.exitCode !== 0) {
    throw new UserError(`\`vagrant ${args.join(' ')}\` failed in ${options.dir} (exit ${result.exitCode ?? 'signal'}): ${vagrantError(result.stderr)} — check \`vagrant status\` there and run tracelab vms up again`);
  }
  return result.stdout;
}

/** Names of the machines vagrant still keeps an id for (created and not destroyed). */
async function machinesWithState(options: VmsOptions): Promise<string[]> {
  const machinesDir = join(resolve(options.dir, options.env.VAGRANT_DOTFILE_PATH ?? '.vagrant'), 'machines');
  const names = await readdir(machinesDir).catch(() => []);
  const kept = await Promise.all(
    names.map(async (name) => {
      const providers = await readdir(join(machinesDir, name)).catch(() => []);
      return providers.some((provider) => existsSync(join(machinesDir, name, provider, 'id'))) ? name : undefined;
    }),
  );
  return kept.filter((name) => name !== undefined);
}
