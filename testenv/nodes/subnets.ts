/** IPv4 prefix arithmetic for choosing the lab segment (pure). */

export interface Ipv4Prefix {
  /** The network address as an unsigned 32-bit number. */
  readonly network: number;
  readonly length: number;
}

export function parseIpv4(address: string): number {
  const parts = address.split('.');
  const octets = parts.map(Number);
  if (parts.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) {
    throw new Error(`'${address}' is not an IPv4 address`);
  }
  return octets.reduce((n, o) => n * 256 + o, 0);
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => String(Math.floor(n / 2 ** shift) % 256)).join('.');
}

/** "10.251.0.0/24" → prefix; a bare address is a /32. */
export function parsePrefix(cidr: string): Ipv4Prefix {
  const [address = '', lengthText = '32'] = cidr.split('/');
  const length = Number(lengthText);
  if (!Number.isInteger(length) || length < 0 || length > 32) throw new Error(`'${cidr}' has no valid prefix length`);
  const size = 2 ** (32 - length);
  return { network: Math.floor(parseIpv4(address) / size) * size, length };
}

export function formatPrefix(prefix: Ipv4Prefix): string {
  return `${formatIpv4(prefix.network)}/${prefix.length}`;
}

export function overlaps(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  const aEnd = a.network + 2 ** (32 - a.length);
  const bEnd = b.network + 2 ** (32 - b.length);
  return a.network < bEnd && b.network < aEnd;
}

/** The n-th host address of a prefix (1 = the first usable one). */
export function hostAddress(prefix: Ipv4Prefix, n: number): string {
  if (n < 1 || n >= 2 ** (32 - prefix.length) - 1) throw new Error(`${formatPrefix(prefix)} has no host number ${n}`);
  return formatIpv4(prefix.network + n);
}

/**
 * The first /24 of `pool` that overlaps none of the host's routes (the default route aside, which
 * covers everything), or undefined when every one clashes.
 */
export function firstFreeSubnet(pool: Ipv4Prefix, routes: readonly Ipv4Prefix[]): Ipv4Prefix | undefined {
  const specific = routes.filter((r) => r.length > 0);
  for (let network = pool.network; network < pool.network + 2 ** (32 - pool.length); network += 256) {
    const candidate = { network, length: 24 };
    if (!specific.some((r) => overlaps(r, candidate))) return candidate;
  }
  return undefined;
}

/** The routes (or addresses) among `routes` that `subnet` overlaps, the default route aside. */
export function clashes(subnet: Ipv4Prefix, routes: readonly Ipv4Prefix[]): Ipv4Prefix[] {
  return routes.filter((r) => r.length > 0 && overlaps(r, subnet));
}
