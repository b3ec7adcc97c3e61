import { join } from 'node:path';
import cacache from 'cacache';
import { $ } from 'zx';
import { UserError } from '../core/errors.ts';

/**
 * An npm cache for air-gapped image builds: `npm ci --offline --cache <dir>` installs the services'
 * production dependencies from it with no network. This repository's lockfile omits `resolved` URLs
 * (omit-lockfile-registry-resolved), so npm looks such a package up by name: the cache holds its
 * packument, trimmed to the locked versions, and its tarball, both keyed as npm's fetcher
 * (make-fetch-happen) keys them; a package the lockfile gives a `resolved` URL needs its tarball
 * only. Contents come from the user's npm cache, checked against the lockfile's integrity; all the
 * rest is fixed, so the same lockfile gives the same cache.
 */

/** The registry npm uses inside the build (no .npmrc there); the cache keys name it. */
export const defaultRegistry = 'https://registry.npmjs.org/';

/** What pacote asks the registry for when it needs a packument: a cached one matches only with the same header. */
const packumentAccept = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

/** A fixed entry time keeps the index reproducible; an offline install never checks freshness. */
const entryTime = Date.UTC(2000, 0, 1);

interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly integrity?: string;
  readonly resolved?: string;
  readonly link?: boolean;
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly inBundle?: boolean;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

export interface Lockfile {
  readonly packages: Readonly<Record<string, LockEntry>>;
}

/** One registry package an install needs. */
export interface LockedPackage {
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  /** The tarball's URL, when the lockfile records it. */
  readonly resolved: string | undefined;
  /** Installed only where its platform fits: skipped quietly when the npm cache lacks it. */
  readonly optional: boolean;
}

/** Where Node would find `name` from the package at `from`: the nearest `node_modules/<name>` up the tree. */
function resolveLocation(packages: Lockfile['packages'], from: string, name: string): string | undefined {
  const parts = from === '' ? [] : from.split('/');
  for (let i = parts.length; i >= 0; i--) {
    const dir = parts.slice(0, i).join('/');
    if (parts[i - 1] === 'node_modules') continue;
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (candidate in packages) return candidate;
  }
  return undefined;
}

/**
 * The registry packages `npm ci --omit=dev --workspace <w> --include-workspace-root=false` installs
 * for each workspace, as npm picks them: every package its dependency edges reach (workspace
 * devDependencies too, as npm's filter does), less the dev-only ones. Sorted by name and version.
 */
export function lockedPackages(lock: Lockfile, workspaces: readonly string[]): LockedPackage[] {
  const { packages } = lock;
  const found = new Map<string, LockedPackage>();
  const visited = new Set<string>();
  const queue = [...workspaces];
  for (let location = queue.shift(); location !== undefined; location = queue.shift()) {
    let entry = packages[location];
    if (entry === undefined) throw new UserError(`package-lock.json has no "${location}": run \`npm install\` to bring it up to date`);
    if (entry.link === true && entry.resolved !== undefined) {
      location = entry.resolved;
      entry = packages[location];
      if (entry === undefined) throw new UserError(`package-lock.json links to "${location}" but does not list it: run \`npm install\``);
    }
    if (visited.has(location)) continue;
    visited.add(location);
    const isWorkspace = !location.includes('node_modules/');
    if (!isWorkspace && entry.dev !== true && entry.inBundle !== true) {
      const name = entry.name ?? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
      if (entry.version === undefined || entry.integrity === undefined) throw new UserError(`${name} (${location}) has no version and integrity in package-lock.json, so it cannot be installed offline`);
      const resolved = entry.resolved?.startsWith('http') === true ? entry.resolved : undefined;
      found.set(`${name}@${entry.version}`, { name, version: entry.version, integrity: entry.integrity, resolved, optional: entry.optional === true });
    }
    const edges = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies, ...(isWorkspace ? entry.devDependencies : {}) };
    for (const name of Object.keys(edges)) {
      const target = resolveLocation(packages, location, name);
      // Unresolved: an optional peer nobody installs (a broken lockfile fails `npm ci` itself).
      if (target !== undefined) queue.push(target);
    }
  }
  return [...found.values()].sort((a, b) => (a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1));
}

/** The npm cache `npm config get cache` names (`~/.npm`); its content lives in `_cacache/`. */
export async function localNpmCache(): Promise<string> {
  return (await $({ quiet: true })`npm config get cache`).stdout.trim();
}

function cacheKey(url: string): string {
  return `make-fetch-happen:request-cache:${url}`;
}

interface Manifest {
  readonly dist?: { readonly tarball?: string };
}

interface Packument {
  readonly name?: string;
  readonly versions?: Readonly<Record<string, Manifest>>;
}

async function readPackument(userCache: string, url: string): Promise<Packument | undefined> {
  try {
    return JSON.parse((await cacache.get(userCache, cacheKey(url))).data.toString('utf8')) as Packument;
  } catch {
    return undefined;
  }
}

export interface OfflineNpmCacheOptions {
  /** The user's npm cache (the folder holding `_cacache/`). */
  readonly npmCache: string;
  /** The registry the build's npm uses. @default https://registry.npmjs.org/ */
  readonly registry?: string;
}

/**
 * Writes an npm cache into `dir` (`dir/_cacache/…`) holding exactly `packages`. Throws one line
 * naming the first package the user's npm cache lacks.
 */
export async function writeOfflineNpmCache(dir: string, packages: readonly LockedPackage[], options: OfflineNpmCacheOptions): Promise<void> {
  const userCache = join(options.npmCache, '_cacache');
  const target = join(dir, '_cacache');
  const registry = (options.registry ?? defaultRegistry).replace(/\/+$/, '');
  const byName = Map.groupBy(packages, (pkg) => pkg.name);
  const putTarball = async (url: string, integrity: string): Promise<void> => {
    const data = await cacache.get.byDigest(userCache, integrity);
    const metadata = { url, reqHeaders: {}, resHeaders: { 'content-type': 'application/octet-stream' }, options: { compress: true }, time: entryTime };
    // `time` is cacache's own option (its types omit it).
    const putOptions = { integrity, metadata, time: entryTime };
    await cacache.put(target, cacheKey(url), data, putOptions);
  };
  const missing = (pkg: LockedPackage): UserError => new UserError(`${pkg.name}@${pkg.version} is not in your npm cache (${options.npmCache}): run \`npm ci\` once online`);
  for (const [name, versions] of byName) {
    const packumentUrl = `${registry}/${name.replace('/', '%2f')}`;
    const packument = versions.some((pkg) => pkg.resolved === undefined) ? await readPackument(userCache, packumentUrl) : undefined;
    const kept: Record<string, Manifest> = {};
    for (const pkg of versions) {
      const inCache = (await cacache.get.hasContent(userCache, pkg.integrity)) !== false;
      if (pkg.resolved !== undefined) {
        if (inCache) await putTarball(pkg.resolved, pkg.integrity);
        else if (!pkg.optional) throw missing(pkg);
        continue;
      }
      const manifest = packument?.versions?.[pkg.version];
      const tarball = manifest?.dist?.tarball;
      if (manifest === undefined || tarball === undefined || !inCache) {
        if (pkg.optional) continue;
        throw missing(pkg);
      }
      kept[pkg.version] = manifest;
      await putTarball(tarball, pkg.integrity);
    }
    if (Object.keys(kept).length === 0) continue;
    const trimmed = Buffer.from(JSON.stringify({ name, 'dist-tags': {}, versions: kept }));
    const metadata = { url: packumentUrl, reqHeaders: { accept: packumentAccept }, resHeaders: { 'content-type': 'application/json' }, options: { compress: true }, time: entryTime };
    const putOptions = { metadata, time: entryTime };
    await cacache.put(target, cacheKey(packumentUrl), trimmed, putOptions);
  }
}
