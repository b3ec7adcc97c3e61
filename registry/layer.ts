import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from '../core/kube/client.ts';
import type { Layer } from '../core/layer.ts';
import { explainKubeError } from '../core/kube/report.ts';
import { registryNamespace } from './address.ts';
import { parseRegistryOptions, type RegistryOptions } from './options.ts';
import { renderRegistry } from './render.ts';

const defaultClassAnnotation = 'storageclass.kubernetes.io/is-default-class';

async function hasDefaultStorageClass(kube: KubeClient): Promise<boolean> {
  try {
    const classes = await kube.list<KubernetesObject>('storage.k8s.io/v1', 'StorageClass');
    return classes.items.some((item) => item.metadata?.annotations?.[defaultClassAnnotation] === 'true');
  } catch (err) {
    throw explainKubeError('look for a default StorageClass', undefined, err);
  }
}

/** The lab registry the in-cluster builds push to and the nodes pull from. */
export const registryLayer: Layer<RegistryOptions> = {
  name: 'registry',
  description: 'the lab image registry (distribution v3) the in-cluster builds push to and every node pulls from',
  namespaces: [registryNamespace],
  installedByBootstrap: true,
  parseOptions: parseRegistryOptions,
  async adaptToCluster(kube, options, { output }) {
    if (options.storage !== 'auto') return options;
    const claimed = await kube.get({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', name: 'registry-data', namespace: registryNamespace });
    if (claimed !== undefined || (await hasDefaultStorageClass(kube))) return { ...options, storage: 'claim' };
    output.warn(`the cluster has no default StorageClass: the registry keeps images in its pod (${options.storageSize} emptyDir), lost when the pod is replaced — rebuilt by the next deploy:demo; \`tracelab up storage\` makes volumes on the nodes' disks the default, then \`tracelab up registry\` moves the registry onto one`);
    return { ...options, storage: 'pod' };
  },
  render: renderRegistry,
};
