import { UserError } from '../core/errors.ts';

export const demoServices = ['frontend', 'backend'] as const;
export type DemoService = (typeof demoServices)[number];

export interface DemoOptions {
  readonly namespace: string;
  /** The image of each service: built in the cluster by `deploy demo` (by digest), or prebuilt (--images). */
  readonly images: Readonly<Record<DemoService, string>>;
  /** Replicas per service; also the HPA's floor, so the autoscaler never fights a re-apply. */
  readonly replicas: number;
  /** Backend knobs, set as env when given; the service defaults apply otherwise. */
  readonly backendLatencyMs: number | undefined;
  readonly backendCpuMs: number | undefined;
  readonly backendErrorRate: number | undefined;
  /** A kubernetes.io/dockerconfigjson Secret in the namespace the nodes pull the images with (a registry with credentials). */
  readonly pullSecret: string | undefined;
  /** The mesh layer is installed: the pods carry an annotation saying so, so that installing or removing the mesh rolls them (sidecar added or gone). Set from the cluster, not a flag. */
  readonly meshed: boolean;
}

export const demoDefaults = { namespace: 'tracelab-demo', replicas: 2 } as const;

/** The flags `tracelab up demo` and `tracelab deploy demo` accept, as raw option keys. */
export const demoOptionKeys = ['images', 'replicas', 'namespace', 'backend-latency-ms', 'backend-cpu-ms', 'backend-error-rate', 'pull-secret'] as const;

const imageRef = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*|\[[0-9a-f:]+\])(?::\d+)?(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function parsePullSecret(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  if (!dnsSubdomain.test(name)) {
    throw new UserError(`--pull-secret '${name}' is not a Secret name (lowercase letters, digits, '-' and '.'): pass the name of a kubernetes.io/dockerconfigjson Secret in the demo's namespace`);
  }
  return name;
}

export function parseImages(text: string | undefined): Record<DemoService, string> {
  const usage = '--images frontend=REF,backend=REF';
  if (text === undefined || text.trim() === '') {
    throw new UserError(`--images is required here: pass prebuilt images as ${usage}, or let \`tracelab deploy demo\` (npm run deploy:demo) build them in the cluster`);
  }
  const images: Partial<Record<DemoService, string>> = {};
  for (const pair of text.split(',')) {
    const [service = '', ref = '', ...rest] = pair.split('=').map((part) => part.trim());
    if (!(demoServices as readonly string[]).includes(service)) {
      throw new UserError(`--images: unknown service '${service}' — the demo has ${demoServices.join(' and ')}; pass ${usage}`);
    }
    if (rest.length > 0 || !imageRef.test(ref)) throw new UserError(`--images: '${ref}' for ${service} is not an image reference — e.g. registry.local:5000/tracelab/${service}:v1`);
    images[service as DemoService] = ref;
  }
  const missing = demoServices.filter((service) => images[service] === undefined);
  if (missing.length > 0) throw new UserError(`--images has no image for ${missing.join(' and ')}: pass ${usage}`);
  return images as Record<DemoService, string>;
}

function parseNumber(flag: string, text: string | undefined, min: number, max: number, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UserError(`--${flag} '${text}' must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

/** Validates the raw flag values (kebab-case keys, as typed on the command line). */
export function parseDemoOptions(raw: Readonly<Record<string, string | undefined>>): DemoOptions {
  for (const key of Object.keys(raw)) {
    if (!(demoOptionKeys as readonly string[]).includes(key)) {
      throw new UserError(`unknown option --${key} for the demo layer — it takes ${demoOptionKeys.map((k) => `--${k}`).join(', ')}`);
    }
  }
  const namespace = raw.namespace ?? demoDefaults.namespace;
  if (!dnsLabel.test(namespace)) throw new UserError(`--namespace '${namespace}' is not a valid namespace name (lowercase letters, digits and '-', at most 63)`);
  // The demo's namespace enforces Pod Security `restricted` and goes with a teardown: never a system one.
  if (namespace === 'default' || namespace.startsWith('kube-')) {
    throw new UserError(`--namespace '${namespace}' is a namespace Kubernetes itself uses: the demo relabels its namespace and deletes it on teardown — pass a namespace of its own, e.g. --namespace ${demoDefaults.namespace}`);
  }
  return {
    namespace,
    images: parseImages(raw.images),
    replicas: parseNumber('replicas', raw.replicas, 1, 20, true) ?? demoDefaults.replicas,
    backendLatencyMs: parseNumber('backend-latency-ms', raw['backend-latency-ms'], 0, 60_000, true),
    backendCpuMs: parseNumber('backend-cpu-ms', raw['backend-cpu-ms'], 0, 10_000, true),
    backendErrorRate: parseNumber('backend-error-rate', raw['backend-error-rate'], 0, 1, false),
    pullSecret: parsePullSecret(raw['pull-secret']),
    meshed: false,
  };
}
