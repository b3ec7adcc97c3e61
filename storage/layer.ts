import type { V1StorageClass } from '@kubernetes/client-node';
import type { KubeClient } from '../core/kube/client.ts';
import type { Layer } from '../core/layer.ts';
import { explainKubeError } from '../core/kube/report.ts';
import { parseStorageOptions, type StorageOptions } from './options.ts';
import { defaultClassAnnotation, renderStorage, storageClassName, storageNamespace } from './render.ts';

/** Both spellings Kubernetes' DefaultStorageClass admission still honours. */
const defaultAnnotations = [defaultClassAnnotation, 'storageclass.beta.kubernetes.io/is-default-class'];

/** The default StorageClasses that are not tracelab's. */
export async function otherDefaultClasses(kube: KubeClient): Promise<string[]> {
  try {
    const classes = await kube.list<V1StorageClass>('storage.k8s.io/v1', 'StorageClass');
    return classes.items
      .filter((item) => item.metadata?.name !== storageClassName && defaultAnnotations.some((key) => item.metadata?.annotations?.[key] === 'true'))
      .map((item) => item.metadata?.name ?? '')
      .sort();
  } catch (err) {
    throw explainKubeError('look for a default StorageClass', undefined, err);
  }
}

/**
 * Volumes on the nodes' own disks for clusters without a storage system, as the cluster's default
 * StorageClass — unless another class is default already: two defaults would make the class of a
 * claim that names none depend on which was made last.
 */
export const storageLayer: Layer<StorageOptions> = {
  name: 'storage',
  description: "volumes on each node's own disk (Rancher's local-path provisioner) as the default StorageClass tracelab-local-path, for clusters that have none",
  namespaces: [storageNamespace],
  // Before the registry (cli/layers.ts), so that its claim lands on a volume that outlives the pod.
  installedByBootstrap: true,
  parseOptions: parseStorageOptions,
  async adaptToCluster(kube, options, { output }) {
    if (!options.defaultClass) return options;
    const others = await otherDefaultClasses(kube);
    if (others.length === 0) return options;
    output.warn(
      `the cluster's default StorageClass is ${others.join(', ')}: ${storageClassName} is installed beside it, not as a second default (claims that name no class, the registry's too, stay on ${others.join(', ')}) — pass --default-class false to say so, or take the default annotation off ${others.join(', ')} and run again`,
    );
    return { ...options, defaultClass: false };
  },
  render: renderStorage,
};
