import type { Executor } from './executors/executor.ts';

/** What preflight judges and the plan adapts to, read from the host in one round trip. */
export interface HostFacts {
  /** ID and VERSION_ID of /etc/os-release, e.g. `debian` `12`. */
  readonly os: { readonly id: string; readonly versionId: string; readonly idLike: readonly string[] };
  readonly cpus: number;
  readonly memoryBytes: number;
  /** Active swap devices (/proc/swaps). */
  readonly swapDevices: readonly string[];
  /** TCP ports something listens on. */
  readonly listeningPorts: ReadonlySet<number>;
  readonly cgroupVersion: 1 | 2;
  /** Host clock minus this machine's, in seconds (for remote hosts; 0 locally). */
  readonly clockSkewSeconds: number;
  readonly ipForward: boolean;
  /** Loaded or built-in kernel modules among the ones Kubernetes needs. */
  readonly modules: ReadonlySet<string>;
  /** Whether processes may lower oom_score_adj; inside LXC and CI containers they may not. */
  readonly canLowerOomScoreAdj: boolean;
  /** systemd is PID 1: services are units; otherwise tracelab supervises them itself. */
  readonly systemd: boolean;
  readonly kernelRelease: string;
  /** `uname -m`, e.g. x86_64. */
  readonly machine: string;
  readonly hostname: string;
  /** Global-scope IPv4 addresses with their prefix, e.g. 10.251.0.10/24. */
  readonly addresses: readonly string[];
}

export const neededModules = ['overlay', 'br_netfilter'] as const;

/** One shell script, sections separated by `==name==` lines; every probe tolerates its own failure. */
export const factsScript = [
  'echo ==os-release==; cat /etc/os-release 2>/dev/null',
  'echo ==cpus==; nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo',
  'echo ==meminfo==; grep ^MemTotal: /proc/meminfo',
  'echo ==swaps==; tail -n +2 /proc/swaps 2>/dev/null',
  'echo ==tcp==; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null',
  'echo ==cgroupfs==; stat -fc %T /sys/fs/cgroup 2>/dev/null',
  'echo ==epoch==; date +%s',
  'echo ==ip_forward==; cat /proc/sys/net/ipv4/ip_forward 2>/dev/null',
  // Loaded, or built in: a built-in module shows by what it provides (a filesystem, a sysctl).
  'echo ==modules==; cut -d" " -f1 /proc/modules 2>/dev/null; grep -qw overlay /proc/filesystems && echo overlay; [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] && echo br_netfilter',
  'echo ==oom==; (echo -999 > /proc/self/oom_score_adj) 2>/dev/null && echo yes || echo no',
  'echo ==systemd==; [ -d /run/systemd/system ] && echo yes || echo no',
  'echo ==kernel==; uname -r',
  'echo ==machine==; uname -m',
  'echo ==hostname==; hostname',
  'echo ==addresses==; ip -o -4 addr show scope global 2>/dev/null | awk \'{print $4}\'',
].join('\n');

function sections(text: string): Map<string, string[]> {
  const result = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of text.split('\n')) {
    const header = /^==([a-z_-]+)==$/.exec(line);
    if (header !== null) {
      current = [];
      result.set(header[1] ?? '', current);
    } else if (line.trim() !== '') {
      current.push(line);
    }
  }
  return result;
}

/** Ports in LISTEN state (0A) from /proc/net/tcp and tcp6: local_address is HEXIP:HEXPORT. */
function listeningPorts(lines: readonly string[]): Set<number> {
  const ports = new Set<number>();
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] !== '0A') continue;
    const port = Number.parseInt((fields[1] ?? '').split(':')[1] ?? '', 16);
    if (Number.isInteger(port)) ports.add(port);
  }
  return ports;
}

/** Pure: the facts in the script's output (`localEpoch` is this machine's clock when it ran). */
export function parseHostFacts(output: string, localEpochSeconds: number): HostFacts {
  const s = sections(output);
  const first = (name: string): string => s.get(name)?.[0]?.trim() ?? '';
  const osRelease = new Map(
    (s.get('os-release') ?? []).map((line) => {
      const equals = line.indexOf('=');
      return [line.slice(0, equals), line.slice(equals + 1).replace(/^"|"$/g, '')] as const;
    }),
  );
  const memKb = Number(/(\d+)/.exec(first('meminfo'))?.[1] ?? 0);
  const hostEpoch = Number(first('epoch'));
  return {
    os: { id: osRelease.get('ID') ?? 'unknown', versionId: osRelease.get('VERSION_ID') ?? '', idLike: (osRelease.get('ID_LIKE') ?? '').split(' ').filter((x) => x !== '') },
    cpus: Number(first('cpus')) || 0,
    memoryBytes: memKb * 1024,
    swapDevices: (s.get('swaps') ?? []).map((line) => line.split(/\s+/)[0] ?? ''),
    listeningPorts: listeningPorts(s.get('tcp') ?? []),
    cgroupVersion: first('cgroupfs') === 'cgroup2fs' ? 2 : 1,
    clockSkewSeconds: Number.isFinite(hostEpoch) && hostEpoch > 0 ? hostEpoch - localEpochSeconds : 0,
    ipForward: first('ip_forward') === '1',
    modules: new Set((s.get('modules') ?? []).map((line) => line.trim()).filter((m) => (neededModules as readonly string[]).includes(m))),
    canLowerOomScoreAdj: first('oom') === 'yes',
    systemd: first('systemd') === 'yes',
    kernelRelease: first('kernel'),
    machine: first('machine'),
    hostname: first('hostname'),
    addresses: s.get('addresses') ?? [],
  };
}

export async function gatherHostFacts(executor: Pick<Executor, 'run'>): Promise<HostFacts> {
  const result = await executor.run(['sh', '-c', factsScript]);
  return parseHostFacts(result.stdout, Math.round(Date.now() / 1000));
}
