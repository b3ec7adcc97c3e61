import type { KubeClient } from '../core/kube/client.ts';
import { forwardToService } from '../core/kube/port-forward.ts';
import { inClusterRegistryHost, labRegistryHost, labRepository, registryNamespace, registryPort } from '../registry/address.ts';
import { dockerConfigFor, type RegistryCredentials } from './docker-config.ts';
import { labManifestDigest } from './lab-registry.ts';
import { pushImageArchive } from './push-image.ts';
import { RegistryClient } from './registry-client.ts';
import { apiHost, repositoryUnder, type RegistryRef } from './registry-ref.ts';

/**
 * Where deploy:demo's images go: the lab registry (in the cluster, no credentials) or the
 * registry of `--registry REF`. Builds push there, the nodes pull from there, and this machine
 * asks it whether an image is already built.
 */
export interface ImageRegistry {
  /** How progress lines name it: `the lab registry`, `registry.example.com:5000`. */
  readonly name: string;
  /** The repository of one of the demo's images (frontend, backend, node-base, cache). */
  repository(image: string): string;
  /** The image name build pods push to (and pull the base image and cache from). */
  pushName(repository: string): string;
  /** The image name the nodes pull. */
  pullName(repository: string): string;
  /** Hosts the builders reach over plain HTTP. */
  readonly insecureHosts: readonly string[];
  /** A `.dockerconfigjson` with this registry's credentials only, for the build pods; undefined: none needed. */
  readonly pushCredentials: string | undefined;
  /** The digest of a tag (or digest) in the registry, or undefined when it has none. */
  manifestDigest(repository: string, reference: string): Promise<string | undefined>;
  /** Pushes an OCI layout archive under a tag; returns its manifest's digest. */
  pushArchive(archive: string, repository: string, tag: string): Promise<string>;
}

/**
 * The lab registry: builds push to the Service's cluster DNS name, nodes pull
 * `tracelab-registry:5000/…` (their hosts.toml), lookups go through the API server's service
 * proxy and pushes from this machine through a port-forward.
 */
export function labImageRegistry(kube: KubeClient): ImageRegistry {
  return {
    name: 'the lab registry',
    repository: labRepository,
    pushName: (repository) => `${inClusterRegistryHost}/${repository}`,
    pullName: (repository) => `${labRegistryHost}/${repository}`,
    insecureHosts: [inClusterRegistryHost],
    pushCredentials: undefined,
    manifestDigest: (repository, reference) => labManifestDigest(kube, repository, reference),
    async pushArchive(archive, repository, tag) {
      const forward = await forwardToService(kube, registryNamespace, 'registry', registryPort);
      try {
        return await pushImageArchive(archive, new URL(`http://127.0.0.1:${String(forward.port)}`), repository, tag);
      } finally {
        await forward.close();
      }
    },
  };
}

export interface ExternalRegistrySettings {
  /** Plain HTTP (--registry-insecure) instead of HTTPS. */
  readonly insecure: boolean;
  readonly credentials: RegistryCredentials | undefined;
  /** How messages name where the credentials came from: `pull secret 'creds'`. */
  readonly credentialsSource: string | undefined;
}

/**
 * The registry of `--registry REF`: the build pods and the nodes use one name for it, and this
 * machine talks to it directly (HTTPS unless --registry-insecure), with the pull secret's credentials.
 */
export function externalImageRegistry(ref: RegistryRef, settings: ExternalRegistrySettings): ImageRegistry {
  const client = new RegistryClient({
    base: new URL(`${settings.insecure ? 'http' : 'https'}://${apiHost(ref.host)}`),
    name: `registry ${ref.host}`,
    hint: `check --registry ${ref.host}${ref.path === '' ? '' : `/${ref.path}`}${settings.insecure ? ' (plain HTTP: --registry-insecure)' : ' (HTTPS; a private CA: NODE_EXTRA_CA_CERTS)'} and that this machine reaches it`,
    credentials: settings.credentials,
    credentialsSource: settings.credentialsSource,
  });
  return {
    name: ref.host,
    repository: (image) => repositoryUnder(ref, image),
    pushName: (repository) => `${ref.host}/${repository}`,
    pullName: (repository) => `${ref.host}/${repository}`,
    insecureHosts: settings.insecure ? [ref.host] : [],
    pushCredentials: settings.credentials === undefined ? undefined : dockerConfigFor(ref.host, settings.credentials),
    manifestDigest: (repository, reference) => client.manifestDigest(repository, reference),
    pushArchive: (archive, repository, tag) => pushImageArchive(archive, client, repository, tag),
  };
}
