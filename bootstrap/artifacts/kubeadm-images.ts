import { readFile, readdir, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { $ } from 'zx';
import type { ImageFile, ImageSpec } from './oci-image.ts';

/** The program each kubeadm image runs, by the image's last path element. */
const binaryOf: Readonly<Record<string, string>> = {
  'kube-apiserver': 'kube-apiserver',
  'kube-controller-manager': 'kube-controller-manager',
  'kube-scheduler': 'kube-scheduler',
  'kube-proxy': 'kube-proxy',
  etcd: 'etcd',
  coredns: 'coredns',
  pause: 'pause',
};

/** `tracelab.local/k8s/kube-proxy:v1.37.2` → `kube-proxy`. */
export function imageComponent(reference: string): string {
  const withoutTag = reference.slice(0, reference.lastIndexOf(':'));
  return withoutTag.slice(withoutTag.lastIndexOf('/') + 1);
}

async function binaryFile(binDir: string, name: string, path: string): Promise<ImageFile> {
  return { path, content: await readFile(join(binDir, name)), mode: 0o755 };
}

/** A dynamically linked program and every shared library it loads, at their own paths. */
export async function withLibraries(program: string, extraObjects: readonly string[]): Promise<ImageFile[]> {
  const files = new Map<string, ImageFile>();
  const addFile = async (path: string, mode: number): Promise<void> => {
    const real = await realpath(path);
    files.set(path.slice(1), { path: path.slice(1), content: await readFile(real), mode });
  };
  for (const object of [program, ...extraObjects]) {
    await addFile(object, 0o755);
    const ldd = await $({ nothrow: true, quiet: true })`ldd ${object}`;
    for (const match of ldd.stdout.matchAll(/(\/\S+\.so[.\d]*)/g)) {
      const library = match[1] ?? '';
      if (!files.has(library.slice(1))) await addFile(library, 0o755);
    }
  }
  return [...files.values()];
}

/**
 * iptables for kube-proxy's image: the host's nft-based multi-call binary, its libraries and its
 * match/target extensions, with the names kube-proxy calls.
 */
export async function iptablesFiles(): Promise<ImageFile[]> {
  const program = '/usr/sbin/xtables-nft-multi';
  const extensionsDir = '/usr/lib/x86_64-linux-gnu/xtables';
  const extensions = (await readdir(extensionsDir)).filter((name) => name.endsWith('.so')).map((name) => join(extensionsDir, name));
  const files = await withLibraries(program, extensions);
  const links = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'];
  // Each name a copy of the multi-call binary, which dispatches on argv[0] (228 KB each).
  const content = files.find((file) => file.path === program.slice(1))?.content ?? '';
  return [...files, ...links.map((name) => ({ path: `usr/sbin/${name}`, content, mode: 0o755 }))];
}

/** The images `kubeadm config images list` names, each holding the program built for it. */
export async function kubeadmImageSpecs(references: readonly string[], binDir: string): Promise<ImageSpec[]> {
  const specs: ImageSpec[] = [];
  for (const reference of references) {
    const component = imageComponent(reference);
    const binary = binaryOf[component];
    if (binary === undefined) throw new Error(`kubeadm asks for image ${reference}, which tracelab cannot assemble (known: ${Object.keys(binaryOf).join(', ')})`);
    if (component === 'pause') {
      specs.push({ name: reference, files: [await binaryFile(binDir, binary, 'pause')], config: { Entrypoint: ['/pause'], User: '65535:65535' } });
    } else if (component === 'coredns') {
      specs.push({ name: reference, files: [await binaryFile(binDir, binary, 'coredns')], config: { Entrypoint: ['/coredns'] } });
    } else {
      const extra = component === 'kube-proxy' ? await iptablesFiles() : [];
      specs.push({ name: reference, files: [await binaryFile(binDir, binary, `usr/local/bin/${basename(binary)}`), ...extra], config: {} });
    }
  }
  return specs;
}

/**
 * The monitoring layer's images, named as it pins them, each holding the program built from the
 * same release. Grafana is not among them: AGPL, so it is never built here (its layer option
 * --grafana false leaves it out).
 */
export async function monitoringImageSpecs(binDir: string): Promise<ImageSpec[]> {
  const { images } = await import('../../monitoring/common.ts');
  const image = async (name: string, binary: string, path: string): Promise<ImageSpec> => ({
    name,
    files: [await binaryFile(binDir, binary, path)],
    config: { Entrypoint: [`/${path}`], User: '65534:65534' },
  });
  return Promise.all([
    image(images.jaeger, 'jaeger', 'cmd/jaeger/jaeger'),
    image(images.prometheus, 'prometheus', 'bin/prometheus'),
    image(images.nodeExporter, 'node-exporter', 'bin/node_exporter'),
    image(images.metricsServer, 'metrics-server', 'metrics-server'),
  ]);
}
