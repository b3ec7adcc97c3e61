/**
 * The product's images in a test node: the specs and archives come from bootstrap/artifacts (what
 * `tracelab artifacts build` makes), built here from the cached component binaries; this file only
 * adds what a test needs on top, getting an archive into a node's containerd.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { kubeadmImageSpecs } from '../../bootstrap/artifacts/kubeadm-images.ts';
import { ociImageArchive, type ImageSpec } from '../../bootstrap/artifacts/oci-image.ts';
import { pauseTag } from '../../bootstrap/steps/container-runtime.ts';
import { offlineImageRepository, readVersions } from '../../bootstrap/versions.ts';
import { componentPath } from '../components.ts';
import type { TestNode } from './node.ts';

/** The sandbox image, named as bootstrap names it (and pins it in containerd's config). */
export const PAUSE_IMAGE = `${offlineImageRepository}/pause:${pauseTag}`;

/** CoreDNS, named as kubeadm asks for it with the product's image repository. */
export function corednsImageName(): string {
  return `${offlineImageRepository}/coredns:${readVersions().coredns}`;
}

/** The pause and coredns image specs, as the product makes them, of the binaries build.sh cached. */
export async function testImageSpecs(): Promise<{ pause: ImageSpec; coredns: ImageSpec }> {
  const [pause, coredns] = await kubeadmImageSpecs([PAUSE_IMAGE, corednsImageName()], path.dirname(componentPath('pause')));
  if (pause === undefined || coredns === undefined) throw new Error('kubeadmImageSpecs() returned fewer specs than asked for');
  return { pause, coredns };
}

export interface ImportedImage {
  readonly name: string;
  /** sha256:… of the manifest: what `ctr images ls` reports as the image's digest. */
  readonly digest: string;
}

/** Builds the image's OCI archive with the product's writer and imports it into the node's containerd (namespace k8s.io). */
export async function importImage(node: TestNode, spec: ImageSpec): Promise<ImportedImage> {
  const { archive, manifestDigest } = await ociImageArchive(spec);
  const file = `/var/lib/tracelab/images/${spec.name.replace(/\W/g, '_')}.tar`;
  const onHost = node.hostPath(file);
  await mkdir(path.dirname(onHost), { recursive: true });
  await writeFile(onHost, archive);
  try {
    await node.executor.run(['ctr', '--namespace', 'k8s.io', 'images', 'import', file]);
  } finally {
    await rm(onHost, { force: true });
  }
  return { name: spec.name, digest: manifestDigest };
}
