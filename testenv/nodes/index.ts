// The real-node test harness: labs (a private segment) with test nodes (own network, mount and UTS
// namespaces) on this machine, and the product's registry-free images in them. Re-exports only.
export { cleanupStaleLabs, createLab, type Lab, type LabOptions, type LabTeardown } from './lab.ts';
export type { NodeProcessOptions, NodeTeardown, TestNode } from './node.ts';
export { CommandFailed, type CommandResult, type Executor, type RunOptions } from '../../bootstrap/executors/executor.ts';
export { PRIVATE_DIRECTORIES } from './mounts.ts';
export { LAB_ADDRESS_POOL, NODE_INTERFACE } from './network.ts';
export { corednsImageName, importImage, PAUSE_IMAGE, testImageSpecs, type ImportedImage } from './images.ts';
export { nodeHarnessUnavailable, requireNodeHarness, requireSshd, sshdUnavailable } from './requirements.ts';
export { generateSshKey, labClientKey, startSshd, type NodeSshd, type SshdOptions } from './sshd.ts';
