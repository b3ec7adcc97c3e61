import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './kube/client.ts';
import type { Output } from './output.ts';

/** What the deploy engine tells a layer's afterApply hook. */
export interface AfterApplyContext {
  /** A server-side dry run: the hook must change nothing, only say what it would do. */
  readonly dryRun: boolean;
  readonly output: Output;
}

/** What a layer's prepare hook may read: local tools and files, never the cluster. */
export interface PrepareContext {
  /** Where the Go-built components are cached ($TRACELAB_CACHE); undefined: ~/.cache/tracelab. */
  readonly componentCache: string | undefined;
  /** $PATH, for tools not given by path. */
  readonly searchPath: string | undefined;
  readonly output: Output;
}

/**
 * A layer is one folder of tracelab (demo, monitoring, mesh, …): a pure render of typed
 * Kubernetes objects from validated options. The deploy engine (core/kube) applies, waits,
 * prunes, diffs and tears down what a layer renders; layers never talk to the API themselves,
 * except through afterApply.
 */
export interface Layer<Options> {
  /** Short name used on the command line and as the field manager suffix (`tracelab-<name>`). */
  readonly name: string;
  readonly description: string;
  /** The namespaces the layer makes and owns; no other layer may put its objects' namespace there. */
  readonly namespaces?: readonly string[];
  /**
   * Field managers of the programs the layer runs that write to the cluster (istiod's
   * `pilot-discovery`): what they made in the layer's namespaces (leases, their certificates) is the
   * layer's own state, which teardown deletes with the namespaces without asking.
   */
  readonly programs?: readonly string[];
  /** `tracelab bootstrap` installs it on the lab it makes (with its default options), in the order of cli/layers.ts. */
  readonly installedByBootstrap?: boolean;
  /** Validates raw CLI/config values; throws UserError with one line naming the bad value. */
  parseOptions(raw: Readonly<Record<string, string | undefined>>): Options;
  /**
   * Produces what the render needs that TypeScript cannot compute, from local inputs only (the
   * mesh's Istio manifests from a pinned istioctl); runs before every render. Throws UserError
   * with one line when an input is missing.
   */
  prepare?(options: Options, context: PrepareContext): Promise<Options>;
  /**
   * Looks at what the cluster already has before the render, e.g. a metrics-server another tool
   * installed, and returns the options to render with (saying what it left alone). Reads only.
   */
  adaptToCluster?(kube: KubeClient, options: Options, context: AfterApplyContext): Promise<Options>;
  /** Pure: the same (prepared) options always give the same objects. */
  render(options: Options): KubernetesObject[];
  /**
   * Runs after every apply (and prune), before the wait for the rollout, in a dry run too: for
   * state a render must not own, e.g. a generated password the workloads wait for.
   */
  afterApply?(kube: KubeClient, options: Options, context: AfterApplyContext): Promise<void>;
  /**
   * Runs after a teardown (in a dry run too, changing nothing): removes what the layer's own
   * programs made at run time and no render holds, e.g. the certificates istiod copies into every
   * namespace. Returns a line per object removed (or that would be).
   */
  afterTeardown?(kube: KubeClient, context: AfterApplyContext): Promise<string[]>;
}

/** Parses a layer's raw options and runs its prepare hook: what every render starts from. */
export async function preparedOptions<Options>(layer: Layer<Options>, raw: Readonly<Record<string, string | undefined>>, context: PrepareContext): Promise<Options> {
  const parsed = layer.parseOptions(raw);
  return layer.prepare === undefined ? parsed : layer.prepare(parsed, context);
}
