/** Where the lab registry lives and the names it is reached by, inside and outside the cluster. */
export const registryNamespace = 'tracelab-registry';
export const registryPort = 5000;
/** Where build pods run: BuildKit's need privileges, so Pod Security is not enforced there (audited). */
export const buildNamespace = 'tracelab-build';
/** Fixed, so that every node's containerd can be told where to pull before the registry exists. */
export const registryNodePort = 30500;

/**
 * The registry's name in image references the nodes pull. It is never looked up in DNS (nodes do
 * not use cluster DNS): bootstrap writes each node's containerd a hosts.toml that sends it to the
 * node's own address at the NodePort.
 */
export const labRegistryHost = `tracelab-registry:${String(registryPort)}`;

/** Where builds inside the cluster push to (cluster DNS). */
export const inClusterRegistryHost = `registry.${registryNamespace}.svc.cluster.local:${String(registryPort)}`;

/** The repository of a demo service's image in the lab registry, e.g. `tracelab/backend`. */
export function labRepository(name: string): string {
  return `tracelab/${name}`;
}

/**
 * The label bootstrap puts on each node whose containerd it told where the lab registry is (the
 * hosts.toml above): the API's only view of a node's containerd configuration.
 */
export const labRegistryNodeLabel = 'tracelab.dev/pulls-lab-registry';
