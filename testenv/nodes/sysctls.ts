import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Machine-wide settings (not per network namespace) that kubelet changes at start unless
 * --protect-kernel-defaults (see ../shared/REAL-CLUSTER.md): a test node must not leave
 * kernel.panic_on_oops=1 behind on a shared machine.
 */
export const GLOBAL_SYSCTLS = [
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'vm.overcommit_memory',
  'vm.panic_on_oom',
] as const;

function sysctlFile(key: string): string {
  return `/proc/sys/${key.replaceAll('.', '/')}`;
}

/** The current values of GLOBAL_SYSCTLS (those this kernel has). */
export function readGlobalSysctls(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const key of GLOBAL_SYSCTLS) {
    try {
      values[key] = readFileSync(sysctlFile(key), 'utf8').trim();
    } catch {
      // not in this kernel
    }
  }
  return values;
}

/** Writes back every recorded value that differs now; returns "key: now → recorded" for each. */
export function restoreSysctls(recorded: Readonly<Record<string, string>>): string[] {
  const restored: string[] = [];
  const now = readGlobalSysctls();
  for (const [key, value] of Object.entries(recorded)) {
    if (!(GLOBAL_SYSCTLS as readonly string[]).includes(key) || now[key] === undefined || now[key] === value) continue;
    writeFileSync(sysctlFile(key), value);
    restored.push(`${key}: ${now[key]} → ${value}`);
  }
  return restored;
}
