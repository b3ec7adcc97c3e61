import type { Readable } from 'node:stream';
import type { Output } from '../core/output.ts';

/** One image of a build: its name, arguments and cache. */
export interface ImageToBuild {
  /** What the progress lines call it, e.g. `backend`; letters, digits and '-'. */
  readonly label: string;
  /** Where the image is pushed, tag included: `registry.tracelab-registry.svc.cluster.local:5000/tracelab/backend:src-1a2b…`. */
  readonly image: string;
  /** The Dockerfile's build arguments (SERVICE, NODE_IMAGE, …). */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** A repository (tag included) the builder keeps this image's layer cache in, next to the images. */
  readonly cacheImage: string;
}

/** Images built from one context: a context in, each pushed image's digest out. */
export interface BuildRequest {
  readonly images: readonly ImageToBuild[];
  /** The build context: a gzip tar with the Dockerfile at its root, made afresh on each call. */
  readonly context: () => Readable;
  /** Registries reached over plain HTTP (the lab registry). */
  readonly insecureRegistries: readonly string[];
  /**
   * A `.dockerconfigjson` with the credentials to push with (--pull-secret's, for --registry's
   * host only): the build pods get it as a Secret of their own, deleted with them.
   */
  readonly pushCredentials?: string | undefined;
}

/**
 * A builder running in the cluster (buildkit, kaniko): it builds every image of a request at once,
 * streams its log as progress, cleans up after itself, and returns each label's pushed digest
 * (`sha256:…`), or throws BuildFailedError naming the image that failed.
 */
export interface Builder {
  readonly name: string;
  build(request: BuildRequest, output: Output, signal: AbortSignal): Promise<ReadonlyMap<string, string>>;
}

/** A build that failed: the image, the step it failed at and the tail of its log, for one clear message. */
export class BuildFailedError extends Error {
  readonly label: string;
  readonly step: string | undefined;
  readonly logTail: readonly string[];
  constructor(label: string, step: string | undefined, logTail: readonly string[], reason: string) {
    super(`the ${label} image did not build${step === undefined ? '' : ` at ${step}`}: ${reason}`);
    this.name = 'BuildFailedError';
    this.label = label;
    this.step = step;
    this.logTail = logTail;
  }
}

/** The progress line of a step: short enough for one terminal line. */
export function progressLine(label: string, step: string): string {
  return `  ${label}: ${step.length > 110 ? `${step.slice(0, 109)}…` : step}`;
}
