import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { errorMessage, UserError } from '../core/errors.ts';
import { bootstrapDefaults, contains, dnsName, labelKey, labelValue, overlaps, parseCidr, type Cidr } from './options.ts';
import { readVersions } from './versions.ts';

export const hostRoles = ['control-plane', 'worker'] as const;
export type HostRole = (typeof hostRoles)[number];
export const cniNames = ['calico', 'flannel', 'bridge'] as const;
export type CniName = (typeof cniNames)[number];
export const cgroupDrivers = ['systemd', 'cgroupfs'] as const;
export type CgroupDriver = (typeof cgroupDrivers)[number];

export interface LabSsh {
  readonly user: string;
  readonly port: number;
  /** Absolute path; undefined: ssh-agent or ~/.ssh/config decides. */
  readonly identityFile: string | undefined;
}

export interface LabHost {
  readonly name: string;
  readonly address: string;
  readonly ssh: LabSsh;
  readonly roles: readonly HostRole[];
  readonly labels: Readonly<Record<string, string>>;
  /** Several nodes on one machine (test labs): this kubelet's pods under their own cgroup. */
  readonly kubeletCgroupRoot: string | undefined;
}

/** A multi-node lab as its inventory file describes it, validated and frozen. */
export interface Lab {
  /** The inventory file, for messages that point back at it. */
  readonly file: string;
  readonly kubernetesVersion: string;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  readonly cni: CniName;
  /** cgroupDriver undefined: detected on each host (systemd on cgroup v2 hosts run by systemd). */
  readonly runtime: { readonly cgroupDriver: CgroupDriver | undefined };
  readonly contextName: string;
  readonly hosts: readonly LabHost[];
  readonly controlPlane: LabHost;
  /** Hosts with the worker role, the control plane included when it has that role too. */
  readonly workers: readonly LabHost[];
}

export interface InventoryOptions {
  /** Why an SSH key file cannot be used (e.g. 'does not exist'), or undefined when it can. */
  readonly keyFileProblem?: (path: string) => string | undefined;
  /** The one supported Kubernetes version; default: the pin in versions.env. */
  readonly kubernetesVersion?: string;
  /** What `~/` in an identityFile stands for. */
  readonly homeDir?: string;
}

const topLevelKeys = ['kubernetesVersion', 'podSubnet', 'serviceSubnet', 'cni', 'runtime', 'contextName', 'hosts'];
const hostKeys = ['name', 'address', 'roles', 'ssh', 'labels', 'kubeletCgroupRoot'];
const sshKeys = ['user', 'port', 'identityFile'];
const runtimeKeys = ['cgroupDriver'];

const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const example = 'bootstrap/inventory.example.yaml';

/** Reads and validates an inventory file; every problem is a one-line UserError naming file, line and field. */
export function readInventory(file: string, options: InventoryOptions = {}): Lab {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the inventory ${file}: ${errorMessage(err)} — pass the path of your lab file (see ${example})`, { cause: err });
  }
  return parseInventory(text, file, options);
}

/** Validates inventory text; `file` is where it came from (messages, relative identity files). */
export function parseInventory(text: string, file: string, options: InventoryOptions = {}): Lab {
  const source: Source = new Source(text, file);
  const root = source.root();
  const supported = options.kubernetesVersion ?? readVersions().kubernetes;
  const keyFileProblem = options.keyFileProblem ?? defaultKeyFileProblem;
  const homeDir = options.homeDir ?? homedir();

  source.rejectUnknownKeys(root, topLevelKeys, []);
  const kubernetesVersion = parseKubernetesVersion(source, root.kubernetesVersion, supported);
  const podSubnet = source.cidr(root.podSubnet ?? bootstrapDefaults.podSubnet, ['podSubnet']);
  const serviceSubnet = source.cidr(root.serviceSubnet ?? bootstrapDefaults.serviceSubnet, ['serviceSubnet']);
  if (overlaps(podSubnet, serviceSubnet)) {
    source.fail(['podSubnet'], `${podSubnet.text} overlaps serviceSubnet ${serviceSubnet.text} — pick ranges that do not overlap, e.g. ${bootstrapDefaults.podSubnet} and ${bootstrapDefaults.serviceSubnet}`);
  }
  const cni = source.oneOf(root.cni ?? 'calico', cniNames, ['cni']);
  const runtimeSection = source.mapping(root.runtime ?? {}, ['runtime']);
  source.rejectUnknownKeys(runtimeSection, runtimeKeys, ['runtime']);
  const cgroupDriver = runtimeSection.cgroupDriver === undefined || runtimeSection.cgroupDriver === null ? undefined : source.oneOf(runtimeSection.cgroupDriver, cgroupDrivers, ['runtime', 'cgroupDriver']);
  const contextName = source.string(root.contextName ?? bootstrapDefaults.contextName, ['contextName']);
  if (!dnsName.test(contextName)) source.fail(['contextName'], `'${contextName}' is not a valid context name — use lowercase letters, digits, '-' and '.'`);

  if (root.hosts === undefined || root.hosts === null) source.fail(['hosts'], `is missing — list the lab's machines under hosts: (see ${example})`);
  const hosts = source.list(root.hosts, ['hosts'], `must be a non-empty list of hosts (see ${example})`).map((entry, index) => parseHost(source, entry, ['hosts', index], { keyFileProblem, homeDir }));

  hosts.forEach((host, index) => {
    const firstName = hosts.findIndex((other) => other.name === host.name);
    if (firstName < index) source.fail(['hosts', index, 'name'], `'${host.name}' is already hosts[${firstName}].name — give each host its own name`);
    const firstAddress = hosts.findIndex((other) => other.address === host.address);
    if (firstAddress < index) source.fail(['hosts', index, 'address'], `${host.address} is already the address of hosts[${firstAddress}] (${hosts[firstAddress]?.name ?? ''}) — give each host its own address`);
    for (const [field, subnet] of [['podSubnet', podSubnet], ['serviceSubnet', serviceSubnet]] as const) {
      if (contains(subnet, host.address)) {
        source.fail([field], `${subnet.text} contains hosts[${index}].address ${host.address} (host ${host.name}) — set ${field} to a range outside the hosts' network${subnetSuggestion(field, hosts, field === 'podSubnet' ? serviceSubnet : podSubnet)}`);
      }
    }
  });

  const controlPlanes = hosts.flatMap((host, index) => (host.roles.includes('control-plane') ? [index] : []));
  const [controlPlaneIndex, secondControlPlane] = controlPlanes;
  if (controlPlaneIndex === undefined) source.fail(['hosts'], `has no control-plane host — add control-plane to the roles of the one host that runs the API server`);
  if (secondControlPlane !== undefined) {
    source.fail(['hosts', secondControlPlane, 'roles'], `control-plane is also a role of hosts[${controlPlaneIndex}] — tracelab supports one control plane: keep the role on one host only`);
  }
  const workers = hosts.filter((host) => host.roles.includes('worker'));
  if (workers.length === 0) source.fail(['hosts'], `has no worker — add a host with roles: [worker], or give the control plane roles: [control-plane, worker]`);
  if (cni === 'bridge' && hosts.length > 1) source.fail(['cni'], `bridge only connects pods on one host, and this lab has ${hosts.length} — use calico or flannel`);
  const controlPlane = hosts[controlPlaneIndex];
  if (controlPlane === undefined) throw new Error('unreachable: the control plane index comes from hosts');

  return deepFreeze({ file, kubernetesVersion, podSubnet: podSubnet.text, serviceSubnet: serviceSubnet.text, cni, runtime: { cgroupDriver }, contextName, hosts, controlPlane, workers });
}

function parseHost(source: Source, entry: unknown, path: Path, io: { keyFileProblem: (path: string) => string | undefined; homeDir: string }): LabHost {
  const host = source.mapping(entry, path);
  source.rejectUnknownKeys(host, hostKeys, path);
  const name = source.string(host.name, [...path, 'name'], 'name: worker1');
  if (!dnsName.test(name) || name.length > 63) source.fail([...path, 'name'], `'${name}' is not a valid node name — use lowercase letters, digits, '-' and '.', at most 63`);
  const address = parseAddress(source, host.address, [...path, 'address']);

  const rolesPath = [...path, 'roles'];
  const roles = source.list(host.roles, rolesPath, `must list the host's roles — e.g. roles: [worker], or [control-plane, worker]`).map((role, index) => source.oneOf(role, hostRoles, [...rolesPath, index]));
  if (new Set(roles).size < roles.length) source.fail(rolesPath, `lists a role twice — list each role once`);

  const sshPath = [...path, 'ssh'];
  if (host.ssh === undefined) source.fail(sshPath, `is missing — add ssh: { user: <login user> } (port and identityFile are optional)`);
  const ssh = source.mapping(host.ssh, sshPath);
  source.rejectUnknownKeys(ssh, sshKeys, sshPath);
  const user = source.string(ssh.user, [...sshPath, 'user'], 'user: vagrant');
  const port = ssh.port ?? 22;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) source.fail([...sshPath, 'port'], `${shown(port)} is not a TCP port — use a whole number from 1 to 65535 (default 22)`);
  let identityFile: string | undefined;
  const writtenKey = ssh.identityFile ?? undefined;
  if (writtenKey !== undefined) {
    const written = source.string(writtenKey, [...sshPath, 'identityFile']);
    identityFile = written.startsWith('~/') ? join(io.homeDir, written.slice(2)) : isAbsolute(written) ? written : resolve(dirname(source.file), written);
    const problem = io.keyFileProblem(identityFile);
    if (problem !== undefined) source.fail([...sshPath, 'identityFile'], `${identityFile} ${problem} — fix the path, or remove identityFile to let ssh-agent or ~/.ssh/config choose the key`);
  }

  const labelsPath = [...path, 'labels'];
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(source.mapping(host.labels ?? {}, labelsPath))) {
    if (!labelKey.test(key)) source.fail([...labelsPath, key], `is not a valid label key — e.g. tracelab.dev/profile`);
    if (typeof value !== 'string' || !labelValue.test(value)) source.fail([...labelsPath, key], `${shown(value)} is not a valid label value — use a string of letters, digits, '-', '_' and '.', quoted if it looks like a number or boolean`);
    labels[key] = value;
  }
  let kubeletCgroupRoot: string | undefined;
  if (host.kubeletCgroupRoot !== undefined && host.kubeletCgroupRoot !== null) {
    kubeletCgroupRoot = source.string(host.kubeletCgroupRoot, [...path, 'kubeletCgroupRoot']);
    if (!/^\/[\w./-]*$/.test(kubeletCgroupRoot)) source.fail([...path, 'kubeletCgroupRoot'], `'${kubeletCgroupRoot}' is not an absolute cgroup path — e.g. /lab1, or leave it out`);
  }
  return { name, address, ssh: { user, port, identityFile }, roles, labels, kubeletCgroupRoot };
}

function parseKubernetesVersion(source: Source, value: unknown, supported: string): string {
  if (value === undefined || value === null) return supported;
  const version = typeof value === 'number' ? String(value) : source.string(value, ['kubernetesVersion']);
  const normalized = version.startsWith('v') ? version : `v${version}`;
  if (normalized !== supported) source.fail(['kubernetesVersion'], `${version} is not supported — tracelab installs ${supported}: set kubernetesVersion: ${supported} or leave it out`);
  return normalized;
}

function parseAddress(source: Source, value: unknown, path: Path): string {
  const address = source.string(value, path, 'address: 192.168.56.11');
  const octets = ipv4.exec(address)?.slice(1).map(Number);
  if (octets === undefined || octets.some((octet) => octet > 255)) source.fail(path, `'${address}' is not an IPv4 address — write the address the other hosts reach this one on, e.g. 192.168.56.11`);
  return address;
}

/** `, e.g. <range>` for a range that holds no host and does not overlap the other subnet, if one of a few fits. */
function subnetSuggestion(field: 'podSubnet' | 'serviceSubnet', hosts: readonly LabHost[], other: Cidr): string {
  const candidates = field === 'podSubnet' ? [bootstrapDefaults.podSubnet, '10.32.0.0/16', '172.20.0.0/16'] : [bootstrapDefaults.serviceSubnet, '10.112.0.0/16', '172.24.0.0/16'];
  const fits = candidates.find((text) => {
    const candidate = parseCidr(text, field);
    return !overlaps(candidate, other) && !hosts.some((host) => contains(candidate, host.address));
  });
  return fits === undefined ? '' : `, e.g. ${fits}`;
}

/** Default `keyFileProblem`: a regular file this process can open for reading. */
export function defaultKeyFileProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'is not a regular file';
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'does not exist';
    if (code === 'EACCES' || code === 'EPERM') return 'is not readable by this user';
    return `cannot be read (${errorMessage(err)})`;
  }
}

type Path = readonly (string | number)[];
type Mapping = Readonly<Record<string, unknown>>;

/** A value as the user wrote it, for messages. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

function pathText(path: Path): string {
  return path.reduce<string>((text, part) => {
    if (typeof part === 'number') return `${text}[${part}]`;
    if (!/^[A-Za-z_]\w*$/.test(part)) return `${text}['${part}']`;
    return text === '' ? part : `${text}.${part}`;
  }, '');
}

/** The parsed document and the file it came from: every failure names file, line and field. */
class Source {
  readonly file: string;
  readonly #document: Document.Parsed;
  readonly #lines = new LineCounter();

  constructor(text: string, file: string) {
    this.file = file;
    this.#document = parseDocument(text, { lineCounter: this.#lines, uniqueKeys: true });
    const [syntaxError] = this.#document.errors;
    if (syntaxError !== undefined) {
      const line = syntaxError.linePos?.[0].line;
      const reason = (syntaxError.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      throw new UserError(`${file}${line === undefined ? '' : `:${line}`}: not valid YAML: ${reason} — fix the syntax${line === undefined ? '' : ` on line ${line}`}`);
    }
  }

  root(): Mapping {
    const value: unknown = this.#document.toJS();
    if (value === null || value === undefined) throw new UserError(`${this.file}: the inventory is empty — describe the lab's hosts in it, starting from ${example}`);
    if (typeof value !== 'object' || Array.isArray(value)) throw new UserError(`${this.file}:1: the inventory must be a mapping (kubernetesVersion:, hosts:, …), not a ${Array.isArray(value) ? 'list' : typeof value} — see ${example}`);
    return value as Mapping;
  }

  fail(path: Path, problem: string): never {
    const line = this.#lineOf(path);
    throw new UserError(`${this.file}${line === undefined ? '' : `:${line}`}: ${pathText(path)} ${problem}`);
  }

  mapping(value: unknown, path: Path): Mapping {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(path, `must be a mapping of key: value lines`);
    return value as Mapping;
  }

  list(value: unknown, path: Path, problem: string): readonly unknown[] {
    if (!Array.isArray(value) || value.length === 0) this.fail(path, problem);
    return value as unknown[];
  }

  string(value: unknown, path: Path, example?: string): string {
    if (value === undefined || value === null) this.fail(path, `is missing — add it${example === undefined ? '' : `, e.g. ${example}`}`);
    if (typeof value !== 'string' || value === '') this.fail(path, `must be a non-empty string`);
    return value;
  }

  oneOf<T extends string>(value: unknown, allowed: readonly T[], path: Path): T {
    if (!allowed.includes(value as T)) this.fail(path, `${shown(value)} is not supported — use one of ${allowed.join(', ')}`);
    return value as T;
  }

  cidr(value: unknown, path: Path): Cidr {
    const text = this.string(value, path);
    try {
      return parseCidr(text, pathText(path));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      const line = this.#lineOf(path);
      throw new UserError(`${this.file}${line === undefined ? '' : `:${line}`}: ${err.message}`, { cause: err });
    }
  }

  rejectUnknownKeys(value: Mapping, known: readonly string[], path: Path): void {
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const closest = closestKey(key, known);
      const where = path.length === 0 ? 'at the top level' : `in ${pathText(path)}`;
      this.fail([...path, key], `is not a known key ${where} — ${closest === undefined ? `use one of ${known.join(', ')}` : `did you mean ${closest}?`}`);
    }
  }

  /** The line of the deepest node the path reaches: the key itself when it exists. */
  #lineOf(path: Path): number | undefined {
    let node: unknown = this.#document.contents;
    let offset: number | undefined;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && item.key.value === part);
        if (pair === undefined) break;
        offset = isScalar(pair.key) ? pair.key.range?.[0] : offset;
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        node = node.items[part];
        offset = isMap(node) || isSeq(node) || isScalar(node) ? (node.range?.[0] ?? offset) : offset;
      } else {
        break;
      }
    }
    return offset === undefined ? undefined : this.#lines.linePos(offset).line;
  }
}

function closestKey(key: string, known: readonly string[]): string | undefined {
  const simple = (text: string): string => text.toLowerCase().replace(/[-_]/g, '');
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(simple(key), simple(candidate));
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  return best !== undefined && best.distance <= Math.max(2, Math.floor(best.key.length / 3)) ? best.key : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
