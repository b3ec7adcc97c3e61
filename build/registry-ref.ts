import { UserError } from '../core/errors.ts';

/** `--registry REF`: a registry host and the repository prefix the demo's images go under. */
export interface RegistryRef {
  /** As image references name it: `registry.example.com:5000`, `docker.io`, `[::1]:5000`. */
  readonly host: string;
  /** The repository prefix, maybe empty: `team/tracelab`. */
  readonly path: string;
}

const example = 'registry.example.com:5000/team/tracelab';
const hostPart = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * Parses `--registry REF` (`host[:port][/path]`): the host must read as one (a dot, a port or
 * `localhost`, as docker decides), no scheme, no tag or digest, lowercase repository path.
 */
export function parseRegistryRef(text: string): RegistryRef {
  const bad = (why: string): UserError => new UserError(`--registry '${text}' ${why} — e.g. --registry ${example}`);
  const ref = text.trim();
  if (ref === '') throw bad('is empty: name the registry and a repository prefix');
  const scheme = /^([a-z]+):\/\//i.exec(ref);
  if (scheme !== null) throw bad(`has a scheme: leave out ${scheme[0]} (HTTPS is the default; a registry on plain HTTP takes --registry-insecure)`);
  if (ref.includes('@')) throw bad('has a digest: REF is where images go, without a tag or digest');
  const [host = '', ...components] = ref.replace(/\/+$/, '').split('/');
  if (!hostPart.test(host) || !(host.includes('.') || host.includes(':') || host === 'localhost')) {
    throw bad(`does not start with a registry host ('${host}' would be a Docker Hub repository): start it with the host, and the port if not 443`);
  }
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw bad(`has port ${port}: a port is 1 to 65535`);
  const last = components.at(-1) ?? '';
  if (last.includes(':')) throw bad('has a tag: REF is where images go, without a tag or digest');
  for (const component of components) {
    if (!pathComponent.test(component)) {
      throw bad(`has repository path component '${component}': lowercase letters, digits and single separators (. _ __ -) only`);
    }
  }
  const path = components.join('/');
  // The longest name it gets: <path>/node-base (and the tags' repositories are shorter).
  if (`${host}/${path}/node-base`.length > 255) throw bad('is too long: an image name has at most 255 characters');
  // Host names are case-insensitive; image references spell them in lowercase.
  return { host: host.toLowerCase(), path };
}

/** The repository of one of the demo's images under REF: `team/tracelab/backend`. */
export function repositoryUnder(ref: RegistryRef, name: string): string {
  return ref.path === '' ? name : `${ref.path}/${name}`;
}

/**
 * The host the registry's HTTP API answers on: Docker Hub's images are named `docker.io/…`, its
 * API is elsewhere (as docker itself does).
 */
export function apiHost(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' ? 'registry-1.docker.io' : host;
}
