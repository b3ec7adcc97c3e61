import type { Readable } from 'node:stream';
import type { Output } from '../core/output.ts';

/** One image to build: a context in, a pushed image's digest out. */
export interface BuildRequest {
  /** What the progress lines call it, e.g. `backend`. */
  readonly label: string;
  /** Where the image is pushed, tag included: `registry.tracelab-registry.svc.cluster.local:5000/tracelab/backend:src-1a2b…`. */
  readonly image: string;
  /** The Dockerfile's build arguments (SERVICE, NODE_IMAGE, …). */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** The build context: a gzip tar with the Dockerfile at its root, made afresh on each call. */
  readonly context: () => Readable;
  /** A repository (tag included) the builder keeps its layer cache in, next to the images. */
  readonly cacheImage: string;
  /** Registries reached over plain HTTP (the lab registry). */
  readonly insecureRegistries: readonly string[];
}

export interface BuildResult {
  /** The pushed manifest's digest, `sha256:…`. */
  readonly digest: string;
}

/** A builder running in the cluster (kaniko, buildkit): it streams its log as progress and cleans up after itself. */
export interface Builder {
  readonly name: string;
  build(request: BuildRequest, output: Output, signal: AbortSignal): Promise<BuildResult>;
}

/** A build that failed: the step it failed at and the tail of its log, for one clear message. */
export class BuildFailedError extends Error {
  readonly step: string | undefined;
  readonly logTail: readonly string[];
  constructor(label: string, step: string | undefined, logTail: readonly string[], reason: string) {
    super(`the ${label} image did not build${step === undefined ? '' : ` at ${step}`}: ${reason}`);
    this.name = 'BuildFailedError';
    this.step = step;
    this.logTail = logTail;
  }
}
