import type { HostFacts } from './host-facts.ts';
import { neededModules } from './host-facts.ts';

export type Severity = 'fail' | 'warn' | 'ok';

/** One judgement: what was checked, how it went, and — when it is not ok — the fix. */
export interface Finding {
  readonly check: string;
  readonly severity: Severity;
  readonly message: string;
}

/** Ports kubeadm's control plane and kubelet bind. */
export const controlPlanePorts = [6443, 2379, 2380, 10250, 10257, 10259] as const;

export const supportedOs: Readonly<Record<string, string>> = { debian: 'Debian', ubuntu: 'Ubuntu', rhel: 'RHEL', rocky: 'Rocky Linux', almalinux: 'AlmaLinux', centos: 'CentOS Stream', fedora: 'Fedora' };

export interface Requirements {
  /** Ports the node's Kubernetes parts bind: the control plane's and the kubelet's, or the kubelet's alone. */
  readonly ports: readonly number[];
  readonly minCpus: number;
  readonly minMemoryBytes: number;
  /** Host prep turns swap off and sets ip_forward, loads modules: preflight only notes them then. */
  readonly hostPrepWillFix: boolean;
  /** A re-run on a node tracelab already made: its own ports are in use, by its own cluster. */
  readonly alreadyInitialized: boolean;
  readonly maxClockSkewSeconds: number;
}

export const standaloneRequirements: Requirements = { ports: controlPlanePorts, minCpus: 2, minMemoryBytes: 2 * 2 ** 30, hostPrepWillFix: true, alreadyInitialized: false, maxClockSkewSeconds: 30 };

/** A worker runs only the kubelet (and needs less: kubeadm asks 2 CPUs of control planes only). */
export const workerRequirements: Requirements = { ...standaloneRequirements, ports: [10250], minCpus: 1, minMemoryBytes: 1 * 2 ** 30 };

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** Pure: every check kubeadm would fail on later, judged now, each with its fix. */
export function judgeHost(facts: HostFacts, requirements: Requirements): Finding[] {
  const findings: Finding[] = [];
  const add = (check: string, severity: Severity, message: string): void => {
    findings.push({ check, severity, message });
  };
  const family = [facts.os.id, ...facts.os.idLike].find((id) => id in supportedOs);
  if (family === undefined) add('os', 'fail', `${facts.os.id} ${facts.os.versionId} is not a supported OS — use Debian/Ubuntu or a RHEL-family host`);
  else add('os', 'ok', `${facts.os.id} ${facts.os.versionId}`);

  if (facts.cpus < requirements.minCpus) add('cpus', 'fail', `${facts.cpus} CPU — kubeadm needs at least ${requirements.minCpus}: give the host (or VM) more CPUs`);
  else add('cpus', 'ok', `${facts.cpus} CPUs`);

  if (facts.memoryBytes < requirements.minMemoryBytes) add('memory', 'fail', `${gib(facts.memoryBytes)} of memory — the lab needs at least ${gib(requirements.minMemoryBytes)}: give the host more`);
  else if (facts.memoryBytes < 4 * 2 ** 30) add('memory', 'warn', `${gib(facts.memoryBytes)} of memory: enough for the cluster, tight for every layer (see tracelab footprint)`);
  else add('memory', 'ok', gib(facts.memoryBytes));

  if (facts.swapDevices.length > 0) {
    add('swap', requirements.hostPrepWillFix ? 'ok' : 'fail', `swap on ${facts.swapDevices.join(', ')} — ${requirements.hostPrepWillFix ? 'host prep turns it off, persistently' : 'turn it off: swapoff -a and remove it from /etc/fstab'}`);
  } else {
    add('swap', 'ok', 'off');
  }

  const busy = requirements.ports.filter((port) => facts.listeningPorts.has(port));
  if (busy.length > 0 && !requirements.alreadyInitialized) {
    add('ports', 'fail', `port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} already in use — stop what listens there (another cluster? \`tracelab reset\` removes one tracelab made)`);
  } else {
    add('ports', 'ok', requirements.alreadyInitialized ? 'in use by this lab' : `${requirements.ports.join(', ')} free`);
  }

  if (facts.cgroupVersion === 1) {
    add('cgroup', 'warn', 'cgroup v1: deprecated since Kubernetes 1.35 and on its way out — tracelab sets failCgroupV1: false and the cgroupfs driver; move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1) when you can');
  } else {
    add('cgroup', 'ok', `cgroup v2, ${facts.systemd ? 'systemd' : 'cgroupfs'} driver`);
  }

  if (Math.abs(facts.clockSkewSeconds) > requirements.maxClockSkewSeconds) {
    add('time', 'fail', `the host's clock is ${facts.clockSkewSeconds}s off this machine's — certificates would not be valid yet (or any more): sync it (chrony or systemd-timesyncd)`);
  } else {
    add('time', 'ok', 'in sync');
  }

  if (!facts.ipForward) add('ip_forward', requirements.hostPrepWillFix ? 'ok' : 'fail', requirements.hostPrepWillFix ? 'off — host prep sets net.ipv4.ip_forward=1' : 'net.ipv4.ip_forward is 0 — set it to 1');
  else add('ip_forward', 'ok', 'on');

  const missing = neededModules.filter((module) => !facts.modules.has(module));
  if (missing.length > 0) add('modules', requirements.hostPrepWillFix ? 'ok' : 'fail', `${missing.join(', ')} not loaded — ${requirements.hostPrepWillFix ? 'host prep loads them' : `modprobe ${missing.join(' ')}`}`);
  else add('modules', 'ok', neededModules.join(', '));

  if (!facts.canLowerOomScoreAdj) {
    add('oom_score_adj', 'warn', 'processes here cannot lower oom_score_adj (a container-like host: LXC, a CI runner) — containerd gets restrict_oom_score_adj = true, else every pod sandbox fails to start');
  }
  return findings;
}

export function failures(findings: readonly Finding[]): Finding[] {
  return findings.filter((finding) => finding.severity === 'fail');
}
