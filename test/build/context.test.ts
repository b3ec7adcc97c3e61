import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { $ } from 'zx';
import { buildContext, offlineCacheDir, type BuildContextOptions } from '../../build/context.ts';
import { lockedPackages, type LockedPackage, type Lockfile } from '../../build/npm-offline-cache.ts';
import { repoRoot } from '../services/harness.ts';

async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The whole gzip tar of a context, and its digest, the context closed after. */
async function contextOf(options: BuildContextOptions): Promise<{ digest: string; entries: readonly string[]; gzip: Buffer }> {
  const context = await buildContext(options);
  try {
    return { digest: context.digest, entries: context.entries, gzip: await bytes(context.stream()) };
  } finally {
    await context.close();
  }
}

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** What the Dockerfile may get: manifests, service sources, the Dockerfile, and their folders. */
const allowed = /^(Dockerfile|package\.json|package-lock\.json|services\/|services\/(common|frontend|backend)\/(package\.json|src\/.*)?)$/;

/** A scratch repository: the real context's files, the real .dockerignore, and what must stay out. */
async function scratchRepo(): Promise<{ dir: string; junk: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'tracelab-context-'));
  const context = await buildContext({ root: repoRoot });
  try {
    for (const entry of context.entries.filter((name) => !name.endsWith('/'))) {
      await mkdir(dirname(join(dir, entry)), { recursive: true });
      await copyFile(join(repoRoot, entry), join(dir, entry));
    }
  } finally {
    await context.close();
  }
  await copyFile(join(repoRoot, '.dockerignore'), join(dir, '.dockerignore'));
  const junk = [
    `stray-${randomBytes(4).toString('hex')}.txt`,
    'node_modules/express/package.json',
    'services/backend/node_modules/x/index.js',
    'services/backend/src/app.test.ts',
    'services/common/src/nested/deep.test.ts',
    'test/build/context.test.ts',
    'bench/results/run.json',
    'results/latest.json',
    '.git/HEAD',
    'README.md',
  ];
  for (const file of junk) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), 'must not be in the context\n');
  }
  return { dir, junk };
}

describe('buildContext()', () => {
  let scratch: { dir: string; junk: string[] };
  before(async () => {
    scratch = await scratchRepo();
  });
  after(async () => {
    await rm(scratch.dir, { recursive: true, force: true });
  });

  it('holds what .dockerignore allows and the Dockerfile, nothing else', async () => {
    const { entries } = await contextOf({ root: repoRoot });
    assert.ok(entries.includes('Dockerfile'));
    for (const needed of ['package.json', 'package-lock.json', 'services/common/package.json', 'services/backend/src/server.ts', 'services/frontend/src/server.ts', 'services/common/src/telemetry.ts']) assert.ok(entries.includes(needed), needed);
    const outside = entries.filter((name) => !allowed.test(name) || name.includes('node_modules') || name.endsWith('.test.ts'));
    assert.deepEqual(outside, []);
  });

  it('leaves out tests, node_modules, results and a new file at the root', async () => {
    const real = await contextOf({ root: repoRoot });
    const { entries } = await contextOf({ root: scratch.dir });
    for (const file of scratch.junk) assert.ok(!entries.includes(file), file);
    assert.deepEqual(entries, real.entries);
  });

  it('is reproducible: the same sources give the same bytes, at time 0, owned by 0:0', async () => {
    const [a, b] = [await contextOf({ root: repoRoot }), await contextOf({ root: repoRoot })];
    assert.equal(sha256(a.gzip), sha256(b.gzip));
    assert.equal(a.digest, b.digest);
    assert.equal(sha256(gunzipSync(a.gzip)), a.digest, 'the digest is that of the uncompressed tar');
    assert.deepEqual([...a.gzip.subarray(4, 8)], [0, 0, 0, 0], 'no time in the gzip header');
    const file = join(scratch.dir, 'listing.tar.gz');
    await writeFile(file, a.gzip);
    const listing = (await $({ quiet: true })`tar -tvzf ${file} --numeric-owner`).stdout.trim().split('\n');
    assert.ok(listing.every((line) => / 0\/0 .* 1970-01-01 00:00 /.test(line)), listing.join('\n'));
    assert.ok(listing.every((line) => /^(-rw-r--r--|drwxr-xr-x|-rwxr-xr-x) /.test(line)), listing.join('\n'));
  });

  it('changes its digest with one byte of a service source, and back', async () => {
    const source = join(scratch.dir, 'services/backend/src/app.ts');
    const original = await readFile(source);
    const before = await contextOf({ root: scratch.dir });
    const changed = Buffer.from(original);
    changed[0] = (changed[0] ?? 0) ^ 1;
    await writeFile(source, changed);
    try {
      assert.notEqual((await contextOf({ root: scratch.dir })).digest, before.digest);
    } finally {
      await writeFile(source, original);
    }
    assert.equal((await contextOf({ root: scratch.dir })).digest, before.digest);
  });

  it('fails a stream whose files changed after the digest was taken', async () => {
    const source = join(scratch.dir, 'services/backend/src/server.ts');
    const original = await readFile(source);
    const context = await buildContext({ root: scratch.dir });
    try {
      const changed = Buffer.from(original);
      changed[0] = (changed[0] ?? 0) ^ 1;
      await writeFile(source, changed);
      await assert.rejects(bytes(context.stream()), /changed while it was read/);
    } finally {
      await writeFile(source, original);
      await context.close();
    }
  });

  it('names the first package the npm cache lacks, in one line', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tracelab-empty-npm-cache-'));
    try {
      await assert.rejects(buildContext({ root: repoRoot, offlineNpmCache: true, npmCache: empty }), (err: Error) => {
        assert.match(err.message, /^\S+@\d\S* is not in your npm cache \(.+\): run `npm ci` once online$/);
        return true;
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

/** Runs with no network: its own network namespace where it can have one, and a dead proxy always. */
async function offlineShell(): Promise<{ prefix: string[]; env: NodeJS.ProcessEnv }> {
  const canUnshare = (await $({ nothrow: true, quiet: true })`unshare -n true`).exitCode === 0;
  const userconfig = join(tmpdir(), 'tracelab-empty-npmrc');
  await writeFile(userconfig, '');
  const dead = 'http://127.0.0.1:9';
  return {
    prefix: canUnshare ? ['unshare', '-n'] : [],
    // No user config (as in the image) and every request sent to a port nobody listens on.
    env: { ...process.env, npm_config_userconfig: userconfig, npm_config_proxy: dead, npm_config_https_proxy: dead, npm_config_noproxy: '', npm_config_update_notifier: 'false' },
  };
}

/** npm ci --offline of one service in an unpacked context, with no network; the failure names the command. */
async function offlineInstall(dir: string, service: string): Promise<void> {
  const { prefix, env } = await offlineShell();
  await rm(join(dir, 'node_modules'), { recursive: true, force: true });
  const install = await $({ cwd: dir, env, nothrow: true, quiet: true })`${prefix} npm ci --offline --cache ./${offlineCacheDir} --omit=dev --workspace ${`services/${service}`} --include-workspace-root=false --ignore-scripts --no-audit --no-fund`;
  assert.equal(install.exitCode, 0, `${prefix.join(' ')} npm ci --offline failed:\n${install.stderr}`);
  const loads = await $({ cwd: join(dir, 'services', service), env, nothrow: true, quiet: true })`node --input-type=module -e ${"await import('@opentelemetry/api'); await import('express'); console.log('ok')"}`;
  assert.equal(loads.stdout.trim(), 'ok', loads.stderr);
}

/** Writes a context to `dir/context.tar.gz` and unpacks it there; returns its entries. */
async function unpackContext(options: BuildContextOptions, dir: string): Promise<readonly string[]> {
  const context = await buildContext(options);
  try {
    await pipeline(context.stream(), createWriteStream(join(dir, 'context.tar.gz')));
  } finally {
    await context.close();
  }
  await $({ quiet: true, cwd: dir })`tar -xzf context.tar.gz`;
  return context.entries;
}

const blobs = (entries: readonly string[]): string[] => entries.filter((name) => name.startsWith(`${offlineCacheDir}/_cacache/content-v2/`) && !name.endsWith('/'));

describe('buildContext({ offlineNpmCache: true })', () => {
  let dir: string;
  let entries: readonly string[];
  let packages: LockedPackage[];
  before(async () => {
    const lock = JSON.parse(await readFile(join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile;
    packages = lockedPackages(lock, ['services/frontend', 'services/backend']);
    dir = await mkdtemp(join(tmpdir(), 'tracelab-offline-context-'));
    entries = await unpackContext({ root: repoRoot, offlineNpmCache: true }, dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('carries npm-offline-cache/ with a tarball for every package the services install', async () => {
    assert.ok(packages.some((pkg) => pkg.name === 'express'));
    assert.ok(!packages.some((pkg) => pkg.name === 'typescript' || pkg.name === '@kubernetes/client-node'), 'no dev tooling, nothing of the root');
    // A tarball per package, a packument (trimmed to the locked versions) per name: nothing more.
    assert.equal(blobs(entries).length, packages.length + new Set(packages.map((pkg) => pkg.name)).size);
    const size = (await $({ quiet: true })`du -sb ${join(dir, offlineCacheDir)}`).stdout.split('\t')[0];
    console.log(`# offline npm cache: ${packages.length} packages, ${size} bytes`);
  });

  for (const service of ['backend', 'frontend']) {
    it(`lets \`npm ci --offline\` install services/${service} with no network`, async () => {
      await offlineInstall(dir, service);
      const express = JSON.parse(await readFile(join(dir, 'node_modules/express/package.json'), 'utf8')) as { version: string };
      assert.match(express.version, /^5\./);
    });
  }

  it('works as well from a lockfile that records resolved URLs (tarballs only, no packuments)', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'tracelab-resolved-'));
    try {
      const root = join(scratch, 'repo');
      await mkdir(root);
      for (const file of entries.filter((name) => !name.endsWith('/') && !name.startsWith(offlineCacheDir))) {
        await mkdir(dirname(join(root, file)), { recursive: true });
        await copyFile(join(dir, file), join(root, file));
      }
      const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; integrity?: string; resolved?: string; name?: string }> };
      for (const [location, entry] of Object.entries(lock.packages)) {
        if (!location.includes('node_modules/') || entry.integrity === undefined || entry.version === undefined) continue;
        const name = entry.name ?? location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length);
        entry.resolved = `https://registry.npmjs.org/${name}/-/${name.slice(name.indexOf('/') + 1)}-${entry.version}.tgz`;
      }
      await writeFile(join(root, 'package-lock.json'), JSON.stringify(lock, null, 2));
      const unpacked = join(scratch, 'unpacked');
      await mkdir(unpacked);
      const withResolved = await unpackContext({ root, offlineNpmCache: true }, unpacked);
      assert.equal(blobs(withResolved).length, packages.length, 'a tarball per package, no packument');
      await offlineInstall(unpacked, 'backend');
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
