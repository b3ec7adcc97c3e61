import { join } from 'node:path';
import { UserError } from '../../core/errors.ts';
import { fileDigests } from '../host-access.ts';
import { installOnline, onlineInstallDone } from '../install-online.ts';
import { factsOf, type BootstrapContext, type BootstrapStep } from './step.ts';

/** The files install-binaries put on the host, with their sha256. */
export const installedRecord = '/var/lib/tracelab/installed.json';

/** Where each artifact goes on the host. */
export const installs: readonly { readonly from: string; readonly to: string }[] = [
  ...['containerd', 'containerd-shim-runc-v2', 'ctr', 'crictl', 'kubelet', 'kubeadm', 'kubectl'].map((name) => ({ from: `bin/${name}`, to: `/usr/local/bin/${name}` })),
  { from: 'bin/runc', to: '/usr/local/bin/runc' },
  ...['bridge', 'host-local', 'loopback', 'portmap'].map((name) => ({ from: `cni/${name}`, to: `/opt/cni/bin/${name}` })),
];

async function installedFiles(ctx: BootstrapContext): Promise<Record<string, string>> {
  return JSON.parse((await ctx.host.read(installedRecord)) ?? '{}') as Record<string, string>;
}

/**
 * containerd, runc, the CNI plugins, kubelet, kubeadm and kubectl (and crictl): from the artifacts
 * directory, or online from pkgs.k8s.io and release archives pinned by SHA-256.
 */
export const installBinaries: BootstrapStep = {
  title: 'Install containerd, runc, CNI plugins, kubelet, kubeadm and kubectl',
  async isDone(ctx) {
    const source = ctx.lab.source;
    if (source.kind === 'online') return onlineInstallDone(ctx.host, factsOf(ctx), ctx.lab.kubernetesVersion, await installedFiles(ctx));
    const manifest = await artifactsManifest(source.dir);
    const digests = await fileDigests(ctx.host, installs.map(({ to }) => to));
    return digests !== undefined && installs.every(({ from, to }) => digests.get(to) === manifest.files[from]);
  },
  async run(ctx) {
    const source = ctx.lab.source;
    let installed: Record<string, string>;
    if (source.kind === 'online') {
      installed = await installOnline(ctx.host, factsOf(ctx), ctx.lab.kubernetesVersion, ctx.dryRun);
    } else {
      const manifest = await artifactsManifest(source.dir);
      const commands = installs.map(({ from, to }) => ['install', '-D', '-m', '0755', join(source.hostDir, from), to]);
      // A dry run shows each install; a real one makes them in one round trip to the host.
      if (ctx.dryRun) for (const command of commands) await ctx.host.change(command);
      else await ctx.host.change(['sh', '-c', 'set -e; while [ $# -gt 0 ]; do install -D -m 0755 "$1" "$2"; shift 2; done', 'install-files', ...installs.flatMap(({ from, to }) => [join(source.hostDir, from), to])]);
      installed = Object.fromEntries(installs.map(({ from, to }) => [to, manifest.files[from] ?? '']));
    }
    // What reset may remove: only these paths, and only while they still hold what was installed.
    await ctx.host.write(installedRecord, `${JSON.stringify(installed, null, 2)}\n`, 0o600);
  },
};

/** The artifacts directory's manifest, or one line saying how to make it. */
export async function artifactsManifest(dir: string): Promise<{ files: Record<string, string>; images: { reference: string; file: string }[] }> {
  const { readManifest } = await import('../artifacts/build.ts');
  const manifest = await readManifest(dir);
  if (manifest === undefined) throw new UserError(`${dir} is not an artifacts directory (no manifest.json) — make one with \`tracelab artifacts build --out ${dir}\``);
  return { files: { ...manifest.files }, images: [...manifest.images] };
}

/** An artifacts directory on this machine, copied to a host that does not see it (a remote one). */
export const copyArtifacts: BootstrapStep = {
  title: 'Copy the artifacts to the host',
  async isDone(ctx) {
    const source = ctx.lab.source;
    if (source.kind === 'online') return true;
    const { readFile } = await import('node:fs/promises');
    const local = await readFile(join(source.dir, 'manifest.json'), 'utf8');
    // The manifest is copied last: the host's copy equal to ours means the whole copy is there.
    return (await ctx.host.read(join(source.hostDir, 'manifest.json'))) === local;
  },
  async run(ctx) {
    const source = ctx.lab.source;
    if (source.kind === 'online') return;
    const manifest = await artifactsManifest(source.dir);
    await ctx.host.upload(source.dir, [...Object.keys(manifest.files), ...manifest.images.map((image) => image.file)], source.hostDir);
    await ctx.host.upload(source.dir, ['manifest.json'], source.hostDir);
  },
};
