import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Transform, Writable, pipeline, type Readable } from 'node:stream';
import { once } from 'node:events';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import dockerignore from '@balena/dockerignore';
import { pack, type Header, type Pack } from 'tar-stream';
import { defaultRegistry, localNpmCache, lockedPackages, writeOfflineNpmCache, type Lockfile } from './npm-offline-cache.ts';

/**
 * The build context of the demo images: the files the Dockerfile needs, chosen by the repository's
 * .dockerignore exactly as `docker build` would, plus the Dockerfile, as a gzip tar. Reproducible:
 * entries sorted, owned by 0:0, at time 0, mode 0644 or 0755 by the executable bit, and a gzip
 * header without a time, so the same sources give the same bytes and the same digest.
 */

/** Where the context carries its npm cache; the Dockerfile runs `npm ci --offline` when it is there. */
export const offlineCacheDir = 'npm-offline-cache';

/** The workspaces the Dockerfile installs, one per service image. */
export const serviceWorkspaces = ['services/frontend', 'services/backend'] as const;

export interface BuildContextOptions {
  /** The repository: its Dockerfile, .dockerignore and package-lock.json. */
  readonly root: string;
  /**
   * Adds `npm-offline-cache/`, an npm cache with exactly the tarballs both services' `npm ci
   * --omit=dev` installs, taken from the local npm cache: the build then needs no network.
   * @default false
   */
  readonly offlineNpmCache?: boolean;
  /** The local npm cache the offline cache is filled from. @default what `npm config get cache` prints */
  readonly npmCache?: string;
  /** The registry npm uses inside the build. @default https://registry.npmjs.org/ */
  readonly registry?: string;
}

export interface BuildContext {
  /** `sha256:…` of the uncompressed tar: the same digest, the same context ("sources unchanged"). */
  readonly digest: string;
  /** The tar's entries in order; directories end in `/`. */
  readonly entries: readonly string[];
  /**
   * A new gzip tar stream, reading the files again; it fails if they changed since the digest was
   * taken. Read it to its end or destroy it.
   */
  stream(): Readable;
  /** Removes the generated offline npm cache; no stream may be read after. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Entry {
  /** The name in the tar. */
  readonly name: string;
  /** Where it is on disk; undefined for a directory. */
  readonly source: string | undefined;
}

const epoch = new Date(0);

/** `!services/common/src/**` → `services/common/src`: the part of a pattern without wildcards. */
function literalPrefix(pattern: string): string {
  const parts = posix.normalize(pattern.replace(/^\/+/, '')).split('/');
  const firstWild = parts.findIndex((part) => /[*?[\\]/.test(part));
  return (firstWild === -1 ? parts : parts.slice(0, firstWild)).join('/');
}

/**
 * The files the context holds, by the .dockerignore rules (Docker's: patterns anchored at the root,
 * later lines win, `!` re-includes). An excluded directory is entered only if a `!` pattern may
 * re-include something in it, so node_modules is never walked.
 */
export async function contextFiles(root: string): Promise<string[]> {
  const lines = (await readFile(join(root, '.dockerignore'), 'utf8').catch(() => '')).split('\n');
  // The package is CommonJS: its function is both the module and its `default`.
  const matcher = dockerignore.default({ ignorecase: false }).add(lines);
  const reincluded = lines
    .map((line) => line.trim())
    .filter((line) => line.startsWith('!'))
    .map((line) => literalPrefix(line.slice(1)));
  const mayReinclude = (dir: string): boolean => reincluded.some((prefix) => prefix === '' || prefix === dir || prefix.startsWith(`${dir}/`) || dir.startsWith(`${prefix}/`));
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const dirent of await readdir(join(root, dir), { withFileTypes: true })) {
      const path = dir === '' ? dirent.name : `${dir}/${dirent.name}`;
      // Generated into the tar, never taken from disk.
      if (path === offlineCacheDir) continue;
      if (dirent.isDirectory()) {
        if (!matcher.ignores(path) || mayReinclude(path)) await walk(path);
      } else if (!matcher.ignores(path)) {
        files.push(path);
      }
    }
  };
  await walk('');
  return files;
}

/** Every file with its parent directories, sorted by name (code points, not locale). */
function sortedEntries(files: readonly Entry[]): Entry[] {
  const dirs = new Set<string>();
  for (const file of files) {
    const parts = file.name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  const all = [...[...dirs].map((name) => ({ name, source: undefined })), ...files];
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function walkFiles(dir: string, prefix: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const dirent of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (dirent.isDirectory()) continue;
    const source = join(dirent.parentPath, dirent.name);
    entries.push({ name: `${prefix}/${source.slice(dir.length + 1).split('\\').join('/')}`, source });
  }
  return entries;
}

function writeEntry(archive: Pack, header: Partial<Header> & Pick<Header, 'name'>, source?: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = archive.entry(header, (err) => {
      if (err) reject(err);
      else resolve();
    });
    if (source === undefined) return;
    source.on('error', (err) => {
      sink.destroy(err);
      reject(err);
    });
    (async () => {
      for await (const chunk of source) {
        if (!sink.write(chunk as Buffer)) await once(sink, 'drain');
      }
      sink.end(null);
    })().catch(reject);
  });
}

/** Writes the entries into the tar, each file as it is on disk at this moment. */
async function packEntries(archive: Pack, entries: readonly Entry[]): Promise<void> {
  const header = { mtime: epoch, uid: 0, gid: 0, uname: '', gname: '' };
  for (const entry of entries) {
    if (entry.source === undefined) {
      await writeEntry(archive, { ...header, name: entry.name, type: 'directory', mode: 0o755 });
      continue;
    }
    const stat = await lstat(entry.source);
    if (stat.isSymbolicLink()) {
      await writeEntry(archive, { ...header, name: entry.name, type: 'symlink', linkname: await readlink(entry.source), mode: 0o777 });
    } else if (stat.isFile()) {
      const mode = (stat.mode & 0o111) !== 0 ? 0o755 : 0o644;
      await writeEntry(archive, { ...header, name: entry.name, type: 'file', size: stat.size, mode }, createReadStream(entry.source));
    } else {
      throw new Error(`${entry.source} is neither a file, a directory nor a symlink: it cannot go into the build context`);
    }
  }
  archive.finalize();
}

/** The tar through a hash (then gzip, if asked); `onDigest` gets the hash once all has passed and may fail the stream. */
function tarStream(entries: readonly Entry[], compress: boolean, onDigest: (digest: string) => Error | undefined): Readable {
  const archive = pack();
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      done(onDigest(`sha256:${hash.digest('hex')}`));
    },
  });
  const done = (): void => {
    // Errors reach the reader through the stream returned.
  };
  // Node's zlib writes no time and the same OS byte into the gzip header: reproducible as it is.
  const out = compress ? pipeline(archive as unknown as Readable, hashing, createGzip(), done) : pipeline(archive as unknown as Readable, hashing, done);
  packEntries(archive, entries).catch((err: unknown) => {
    archive.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  return out;
}

/**
 * The build context of `options.root`, ready to stream: the file list is fixed and the digest taken
 * (one pass over the files) before it returns; the offline npm cache, if asked for, is written to a
 * temporary folder that `close()` removes.
 *
 *     await using context = await buildContext({ root, offlineNpmCache: true });
 *     await pipeline(context.stream(), createWriteStream('context.tar.gz'));
 */
export async function buildContext(options: BuildContextOptions): Promise<BuildContext> {
  const { root } = options;
  const files: Entry[] = (await contextFiles(root)).map((name) => ({ name, source: join(root, name) }));
  if (!files.some((file) => file.name === 'Dockerfile')) files.push({ name: 'Dockerfile', source: join(root, 'Dockerfile') });
  let scratch: string | undefined;
  const close = async (): Promise<void> => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  };
  try {
    if (options.offlineNpmCache === true) {
      scratch = await mkdtemp(join(tmpdir(), 'tracelab-npm-offline-'));
      const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
      await writeOfflineNpmCache(scratch, lockedPackages(lock, serviceWorkspaces), { npmCache: options.npmCache ?? (await localNpmCache()), registry: options.registry ?? defaultRegistry });
      files.push(...(await walkFiles(scratch, offlineCacheDir)));
    }
    const entries = sortedEntries(files);
    let digest = '';
    const first = tarStream(entries, false, (taken) => {
      digest = taken;
      return undefined;
    });
    await pipelineAsync(first, new Writable({ write: (_chunk, _encoding, done) => { done(); } }));
    return {
      digest,
      entries: entries.map((entry) => entry.name),
      stream: () => tarStream(entries, true, (again) => (again === digest ? undefined : new Error(`the build context changed while it was read (${again} ≠ ${digest}): build again`))),
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
