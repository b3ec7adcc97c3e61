/** Where Headlamp lives and how it is reached; shared by the render, the token and `tracelab ui`. */
export const headlampNamespace = 'headlamp';
export const headlampService = 'headlamp';
/** The Service's port (what `ui` forwards to) and Headlamp's own listening port behind it. */
export const headlampServicePort = 80;
export const headlampContainerPort = 4466;
/** The ServiceAccount whose short-lived tokens people sign in with (bound to the built-in `view` ClusterRole). */
export const headlampViewer = 'headlamp-viewer';

/**
 * Headlamp (kubernetes-sigs/headlamp, Apache-2.0; its images are still published under
 * ghcr.io/headlamp-k8s). v0.45.0; the digest is the index digest three independent public
 * manifests record for this tag — it could not be checked against ghcr.io from here (no network).
 */
export const headlampImage = 'ghcr.io/headlamp-k8s/headlamp:v0.45.0@sha256:db3f0e0fc58d358d41daa3fe7fc852437552c7ee873c3645470f7b86a8e0db49';
