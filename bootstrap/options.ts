import { UserError } from '../core/errors.ts';
import { parseDuration } from '../core/kube/duration.ts';
import type { NodePlan } from './steps/step.ts';
import { etcdImageTag, offlineImageRepository, onlineImageRepository, readVersions } from './versions.ts';

/** The flags of `tracelab bootstrap`, as typed. */
export interface BootstrapFlags {
  readonly artifacts?: string | undefined;
  readonly nodeName?: string | undefined;
  readonly nodeIp?: string | undefined;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  readonly nodeLabels?: string | undefined;
  readonly contextName: string;
  readonly kubeletCgroupRoot?: string | undefined;
  readonly timeout: string;
}

export const bootstrapDefaults = { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', contextName: 'tracelab', timeout: '10m' } as const;

export interface Cidr {
  readonly text: string;
  readonly base: number;
  readonly bits: number;
}

export function parseCidr(text: string, flag: string): Cidr {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const bits = Number(match?.[5]);
  if (match === null || octets.some((o) => o > 255) || bits > 30 || bits < 8) throw new UserError(`${flag} '${text}' is not an IPv4 CIDR from /8 to /30 — e.g. ${flag} 10.244.0.0/16`);
  const address = octets.reduce((n, o) => n * 256 + o, 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if (((address & mask) >>> 0) !== address) throw new UserError(`${flag} '${text}' has host bits set — did you mean ${networkText((address & mask) >>> 0, bits)}?`);
  return { text, base: address, bits };
}

function networkText(address: number, bits: number): string {
  return `${[24, 16, 8, 0].map((shift) => (address >>> shift) & 255).join('.')}/${bits}`;
}

/** The network of an interface address: `10.0.2.15/24` → 10.0.2.0/24. */
export function networkOfAddress(address: string): Cidr {
  const [ip = '', bits = '32'] = address.split('/');
  const prefix = Math.min(32, Math.max(0, Number(bits)));
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { text: address, base: (toNumber(ip) & mask) >>> 0, bits: prefix };
}

function toNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether an IPv4 address lies inside a CIDR. */
export function contains(cidr: Cidr, ip: string): boolean {
  const mask = cidr.bits === 0 ? 0 : (0xffffffff << (32 - cidr.bits)) >>> 0;
  return ((toNumber(ip) & mask) >>> 0) === cidr.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

export const dnsName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
export const labelValue = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * Where binaries and images come from, and the image names kubeadm uses for them: online,
 * registry.k8s.io with kubeadm's own tags; air-gapped, the artifacts' names and tags. `hostDir` is
 * where a host sees the artifacts (a remote host gets a copy).
 */
export function installSettings(artifacts: string | undefined, hostDir: string | undefined): Pick<NodePlan, 'source' | 'imageRepository' | 'etcdImageTag' | 'corednsImageTag'> {
  if (artifacts === undefined) return { source: { kind: 'online' }, imageRepository: onlineImageRepository, etcdImageTag: undefined, corednsImageTag: undefined };
  const versions = readVersions();
  return { source: { kind: 'artifacts', dir: artifacts, hostDir: hostDir ?? artifacts }, imageRepository: offlineImageRepository, etcdImageTag: etcdImageTag(versions.etcd), corednsImageTag: versions.coredns };
}

/** Validates every flag before anything runs on the host; each failure one line with the fix. */
export function parseBootstrapOptions(flags: BootstrapFlags, userKubeconfig: string): NodePlan {
  const pods = parseCidr(flags.podSubnet, '--pod-subnet');
  const services = parseCidr(flags.serviceSubnet, '--service-subnet');
  if (overlaps(pods, services)) throw new UserError(`--pod-subnet ${pods.text} overlaps --service-subnet ${services.text} — pick ranges that do not overlap, e.g. 10.244.0.0/16 and 10.96.0.0/12`);
  if (flags.nodeName !== undefined && (!dnsName.test(flags.nodeName) || flags.nodeName.length > 63)) throw new UserError(`--node-name '${flags.nodeName}' is not a valid node name (lowercase letters, digits, '-' and '.')`);
  if (flags.nodeIp !== undefined && !/^(\d{1,3}\.){3}\d{1,3}$/.test(flags.nodeIp)) throw new UserError(`--node-ip '${flags.nodeIp}' is not an IPv4 address`);
  if (!dnsName.test(flags.contextName)) throw new UserError(`--context-name '${flags.contextName}' is not a valid name (lowercase letters, digits, '-' and '.')`);
  const nodeLabels: Record<string, string> = {};
  for (const pair of (flags.nodeLabels ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [key = '', value, ...rest] = pair.trim().split('=');
    if (value === undefined || rest.length > 0 || !labelKey.test(key) || !labelValue.test(value)) throw new UserError(`--node-labels '${pair}' is not a key=value label — e.g. --node-labels tracelab.dev/profile=worker`);
    nodeLabels[key] = value;
  }
  if (flags.kubeletCgroupRoot !== undefined && !/^\/[\w./-]*$/.test(flags.kubeletCgroupRoot)) throw new UserError(`--kubelet-cgroup-root '${flags.kubeletCgroupRoot}' is not an absolute cgroup path, e.g. /lab1`);
  const versions = readVersions();
  return {
    role: 'standalone',
    cni: 'bridge',
    controlPlaneRunsPods: true,
    cgroupDriver: undefined,
    controlPlaneAddress: flags.nodeIp,
    nodeName: flags.nodeName,
    nodeIP: flags.nodeIp,
    podSubnet: pods.text,
    serviceSubnet: services.text,
    kubernetesVersion: versions.kubernetes,
    ...installSettings(flags.artifacts, flags.artifacts),
    kubeletCgroupRoot: flags.kubeletCgroupRoot,
    nodeLabels,
    userKubeconfig,
    contextName: flags.contextName,
    timeoutMs: parseDuration(flags.timeout, '--timeout'),
  };
}
