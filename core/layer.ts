import type { KubernetesObject } from '@kubernetes/client-node';

/**
 * A layer is one folder of tracelab (demo, monitoring, mesh, …): a pure render of typed
 * Kubernetes objects from validated options. The deploy engine (core/kube) applies, waits,
 * prunes, diffs and tears down what a layer renders; layers never talk to the API themselves.
 */
export interface Layer<Options> {
  /** Short name used on the command line and as the field manager suffix (`tracelab-<name>`). */
  readonly name: string;
  readonly description: string;
  /** Validates raw CLI/config values; throws UserError with one line naming the bad value. */
  parseOptions(raw: Readonly<Record<string, string | undefined>>): Options;
  /** Pure: the same options always give the same objects. */
  render(options: Options): KubernetesObject[];
}
