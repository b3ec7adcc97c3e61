// The real-node test harness: labs (a private segment) with test nodes (own network, mount and UTS
// namespaces) on this machine, and registry-free images for them. Re-exports only.
export { cleanupStaleLabs, createLab, type Lab, type LabOptions, type LabTeardown } from './lab.ts';
export type { NodeProcessOptions, NodeTeardown, TestNode } from './node.ts';
export { CommandFailedError, type CommandResult, type Executor, type RunOptions } from './executor.ts';
export { PRIVATE_DIRECTORIES } from './mounts.ts';
export { LAB_ADDRESS_POOL, NODE_INTERFACE } from './network.ts';
export { assembleImage, corednsImage, pauseImage, PAUSE_TAG, TEST_IMAGE_REPOSITORY, type AssembledImage, type ImageSpec } from './images.ts';
export { renderContainerdConfig, type ContainerdConfigOptions } from './containerd-config.ts';
export { nodeHarnessUnavailable, requireNodeHarness } from './requirements.ts';
