import { join } from 'node:path';
import { containerdConfigPath, labRegistryHostsFile, renderContainerdConfig, renderLabRegistryHosts } from '../containerd-config.ts';
import { readFiles } from '../host-access.ts';
import { pidFile, serviceRunning, startService, type ServiceSpec } from '../services.ts';
import { artifactsManifest } from './install-binaries.ts';
import { cgroupDriverOf, factsOf, nodeOf, type BootstrapContext, type BootstrapStep } from './step.ts';

export const containerdService: ServiceSpec = { name: 'containerd', description: 'containerd container runtime (tracelab)', command: '/usr/local/bin/containerd' };

function config(ctx: BootstrapContext): string {
  const facts = factsOf(ctx);
  return renderContainerdConfig({
    systemdCgroup: cgroupDriverOf(ctx) === 'systemd',
    restrictOomScoreAdj: !facts.canLowerOomScoreAdj,
    sandboxImage: `${ctx.lab.imageRepository}/pause:${pauseTag}`,
    cniBinDir: '/opt/cni/bin',
  });
}

/** kubeadm v1.37's pause image tag (`kubeadm config images list`). */
export const pauseTag = '3.10.2';

/** The images to import: an artifacts directory's; online, kubeadm and the kubelet pull theirs. */
async function imagesToImport(ctx: BootstrapContext): Promise<{ reference: string; file: string }[]> {
  const source = ctx.lab.source;
  if (source.kind === 'online') return [];
  return (await artifactsManifest(source.dir)).images.map((image) => ({ reference: image.reference, file: join(source.hostDir, image.file) }));
}

async function importedImages(ctx: BootstrapContext): Promise<Set<string>> {
  const listed = await ctx.host.probe(['ctr', '--namespace', 'k8s.io', 'images', 'list', '--quiet']);
  return new Set(listed.exitCode === 0 ? listed.stdout.split('\n').map((line) => line.trim()) : []);
}

/** containerd configured for the host, running, with the kubeadm images imported (nothing is pulled). */
export const containerRuntime: BootstrapStep = {
  title: 'Configure and start containerd (and where the lab registry is), import the images',
  async isDone(ctx) {
    const live = await readFiles(ctx.host, [containerdConfigPath, labRegistryHostsFile]);
    if (live.get(containerdConfigPath) !== config(ctx) || live.get(labRegistryHostsFile) !== renderLabRegistryHosts(nodeOf(ctx).ip)) return false;
    if (!(await serviceRunning(ctx.host, containerdService, factsOf(ctx).systemd))) return false;
    const imported = await importedImages(ctx);
    const images = await imagesToImport(ctx);
    return images.every((image) => imported.has(image.reference));
  },
  async run(ctx) {
    const systemd = factsOf(ctx).systemd;
    const wanted = config(ctx);
    const changed = (await ctx.host.read(containerdConfigPath)) !== wanted;
    await ctx.host.write(containerdConfigPath, wanted);
    // Read at each pull: no restart needed when only this changes.
    await ctx.host.write(labRegistryHostsFile, renderLabRegistryHosts(nodeOf(ctx).ip));
    if (changed && (await serviceRunning(ctx.host, containerdService, systemd))) {
      // The supervisor loop starts it again with the new config; only this node's containerd (the loop's child) is stopped.
      await ctx.host.change(systemd ? ['systemctl', 'restart', 'containerd'] : ['sh', '-c', `pkill -P "$(cat ${pidFile(containerdService.name)})" -x containerd; true`]);
    }
    await startService(ctx.host, containerdService, systemd);
    if (!ctx.dryRun) await waitFor(ctx, 'containerd to answer', async () => (await ctx.host.probe(['ctr', 'version'])).exitCode === 0);
    const imported = ctx.dryRun ? new Set<string>() : await importedImages(ctx);
    const files = (await imagesToImport(ctx)).filter((image) => !imported.has(image.reference)).map((image) => image.file);
    // A dry run shows each import; a real one makes them in one round trip to the host.
    if (ctx.dryRun) for (const file of files) await ctx.host.change(['ctr', '--namespace', 'k8s.io', 'images', 'import', file]);
    else if (files.length > 0) await ctx.host.change(['sh', '-c', 'set -e; for f; do ctr --namespace k8s.io images import "$f" >/dev/null; done', 'import-images', ...files]);
  },
};

/** Polls a probe every 500 ms until it holds or the lab's timeout passes. */
export async function waitFor(ctx: BootstrapContext, what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ctx.lab.timeoutMs;
  let lastSaid = Date.now();
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (Date.now() - lastSaid >= 10_000) {
      ctx.output.info(`  … ${ctx.host.name}: still waiting for ${what}`);
      lastSaid = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
