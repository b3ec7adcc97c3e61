/**
 * The lab segment: a Linux bridge in the host's network namespace with a host address, and per
 * node a named network namespace joined to it by a veth pair.
 *
 * Why lab traffic cannot leave the machine:
 * - a node's namespace has loopback, its veth end with one segment address and the segment's
 *   connected route, and no default route, so any other destination is "Network is unreachable"
 *   inside the node (and inside its pods, which route through it);
 * - the host does not forward for the lab: net.ipv4.ip_forward is left as it was, the bridge gets
 *   net.ipv4.conf.<bridge>.forwarding=0 (IPv4 checks forwarding on the device a packet came in on,
 *   so this holds even where ip_forward=1 — until someone writes ip_forward again, which resets
 *   every device), and IPv6 is disabled on the bridge and both veth ends;
 * - nothing here adds NAT, proxy ARP or a route towards the lab's outside.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { $ } from 'zx';
import { clashes, firstFreeSubnet, formatPrefix, parsePrefix, type Ipv4Prefix } from './subnets.ts';

/** /24 segments are taken from here: private, and rarely used by real networks. */
export const LAB_ADDRESS_POOL = '10.251.0.0/16';
/** The node's end of its veth pair, inside its namespace. */
export const NODE_INTERFACE = 'eth0';

const sh = $({ quiet: true });
const probe = $({ quiet: true, nothrow: true });

export function netnsPath(netns: string): string {
  return `/run/netns/${netns}`;
}

/** Every IPv4 route and local address of the host (all tables), as prefixes. */
export async function hostRoutes(): Promise<Ipv4Prefix[]> {
  const out = await sh`ip -j -4 route show table all`;
  const routes = JSON.parse(out.stdout) as { dst?: string }[];
  const prefixes: Ipv4Prefix[] = [];
  for (const route of routes) {
    if (route.dst === undefined || route.dst === 'default') continue;
    try {
      prefixes.push(parsePrefix(route.dst));
    } catch {
      // not an IPv4 destination (e.g. "multicast")
    }
  }
  return prefixes;
}

/** The lab's /24: `requested` when it clashes with no host route, else the first free one of the pool. */
export async function chooseSubnet(requested?: string): Promise<Ipv4Prefix> {
  const routes = await hostRoutes();
  if (requested !== undefined) {
    const subnet = parsePrefix(requested);
    const clashing = clashes(subnet, routes);
    if (clashing.length > 0) {
      throw new Error(`the lab subnet ${requested} overlaps the host's route(s) ${clashing.map(formatPrefix).join(', ')}: choose another subnet`);
    }
    return subnet;
  }
  const free = firstFreeSubnet(parsePrefix(LAB_ADDRESS_POOL), routes);
  if (free === undefined) throw new Error(`every /24 of ${LAB_ADDRESS_POOL} overlaps a host route: pass a free subnet`);
  return free;
}

export async function createBridge(bridge: string, hostAddress: string, prefixLength: number): Promise<void> {
  await sh`ip link add ${bridge} type bridge`;
  writeSysctl(`net/ipv6/conf/${bridge}/disable_ipv6`, '1');
  writeSysctl(`net/ipv4/conf/${bridge}/forwarding`, '0');
  await sh`ip addr add ${`${hostAddress}/${prefixLength}`} dev ${bridge}`;
  await sh`ip link set ${bridge} up`;
}

/** Deletes the bridge when it exists (its veth ports go with their namespaces). */
export async function deleteBridge(bridge: string): Promise<void> {
  if (await linkExists(bridge)) await sh`ip link del ${bridge}`;
}

export interface NodeLink {
  readonly netns: string;
  readonly hostVeth: string;
  readonly address: string;
}

/** Makes the node's network namespace and joins it to the bridge. */
export async function attachNode(bridge: string, node: NodeLink, prefixLength: number): Promise<void> {
  await sh`ip netns add ${node.netns}`;
  await sh`ip link add ${node.hostVeth} type veth peer name ${NODE_INTERFACE} netns ${node.netns}`;
  writeSysctl(`net/ipv6/conf/${node.hostVeth}/disable_ipv6`, '1');
  await sh`ip link set ${node.hostVeth} master ${bridge} up`;
  const inNode = ['nsenter', `--net=${netnsPath(node.netns)}`, '--'];
  await sh`${inNode} sysctl -q -w ${`net.ipv6.conf.${NODE_INTERFACE}.disable_ipv6=1`}`;
  await sh`${inNode} ip addr add ${`${node.address}/${prefixLength}`} dev ${NODE_INTERFACE}`;
  await sh`${inNode} ip link set ${NODE_INTERFACE} up`;
  await sh`${inNode} ip link set lo up`;
}

/** Removes the node's veth pair and network namespace, whichever still exist. */
export async function detachNode(node: Pick<NodeLink, 'netns' | 'hostVeth'>): Promise<void> {
  if (await linkExists(node.hostVeth)) await sh`ip link del ${node.hostVeth}`;
  if (existsSync(netnsPath(node.netns))) await sh`ip netns del ${node.netns}`;
}

export async function linkExists(name: string): Promise<boolean> {
  return (await probe`ip link show dev ${name}`).exitCode === 0;
}

function writeSysctl(key: string, value: string): void {
  writeFileSync(`/proc/sys/${key}`, value);
}
