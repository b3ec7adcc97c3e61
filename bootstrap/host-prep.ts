import type { HostFacts } from './host-facts.ts';
import { neededModules } from './host-facts.ts';

/** A file host prep writes, and why, so that reset knows what to remove. */
export interface HostFile {
  readonly path: string;
  readonly content: string;
}

export const modulesFile = '/etc/modules-load.d/tracelab.conf';
export const sysctlFile = '/etc/sysctl.d/99-tracelab.conf';

/** Kernel settings Kubernetes networking needs, persistent across reboots. */
export const sysctls: Readonly<Record<string, string>> = {
  'net.ipv4.ip_forward': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.bridge.bridge-nf-call-ip6tables': '1',
};

export function renderHostFiles(): HostFile[] {
  const header = '# Written by tracelab bootstrap (host prep); tracelab reset removes it\n';
  return [
    { path: modulesFile, content: header + neededModules.join('\n') + '\n' },
    { path: sysctlFile, content: header + Object.entries(sysctls).map(([key, value]) => `${key} = ${value}`).join('\n') + '\n' },
  ];
}

/**
 * The commands that bring a host to what the files describe, now: load the modules, apply the
 * sysctls, turn swap off and keep it off (fstab swap lines commented, with a marker reset undoes).
 */
export function hostPrepCommands(facts: HostFacts): string[][] {
  const commands: string[][] = [];
  const missing = neededModules.filter((module) => !facts.modules.has(module));
  if (missing.length > 0) commands.push(['modprobe', '-a', ...missing]);
  commands.push(['sysctl', '-q', '-p', sysctlFile]);
  if (facts.swapDevices.length > 0) {
    commands.push(['swapoff', '-a']);
    commands.push(['sed', '-i', '-E', 's@^([^#].*\\sswap\\s.*)$@#tracelab-swap-off# \\1@', '/etc/fstab']);
  }
  return commands;
}
