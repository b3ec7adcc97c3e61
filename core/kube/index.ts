export { createKube, loadKubeConfig, type KubeClient, type KubeClientOptions, type ObjectRef, type ApiResource } from './client.ts';
export { deployLayer, serverSideApply, type DeployOptions } from './apply.ts';
export { teardownLayer, type TeardownOptions } from './teardown.ts';
export { waitForReady, waitForDeletion, watchObject } from './wait.ts';
export { writeRendered, renderedDocuments } from './render.ts';
export { withKube, upLayer, registerLayerCommands } from './commands.ts';
export { KubeApiError, KubeUnreachableError, isTransient } from './errors.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { describeOutcomes, summarize, type DeployReport, type Outcome } from './report.ts';
