import { cni } from './steps/cni.ts';
import { containerRuntime } from './steps/container-runtime.ts';
import { hostPrep } from './steps/host-prep.ts';
import { installBinaries } from './steps/install-binaries.ts';
import { kubeadmInit } from './steps/kubeadm-init.ts';
import { nodeLabels } from './steps/node-labels.ts';
import { preflight } from './steps/preflight.ts';
import type { BootstrapStep } from './steps/step.ts';
import { userKubeconfig } from './steps/user-kubeconfig.ts';
import { waitReady } from './steps/wait-ready.ts';

/** A standalone lab's steps, in order; a re-run skips what each finds done. */
export const standaloneSteps: readonly BootstrapStep[] = [
  preflight, // OS, CPUs, memory, swap, ports, cgroup version, clock, ip_forward, modules, oom_score_adj; node name and IP
  hostPrep, // kernel modules, sysctls, swap off — persistently
  installBinaries, // containerd, runc, crictl, CNI plugins, kubelet, kubeadm, kubectl from the artifacts directory
  containerRuntime, // containerd config (cgroup driver, oom_score_adj), service, images imported
  kubeadmInit, // generated v1beta4 config, kubelet service, kubeadm init
  userKubeconfig, // the lab's context merged into your kubeconfig (0600)
  cni, // the single-node bridge
  nodeLabels, // e.g. tracelab.dev/profile for node-exporter's --node-profile
  waitReady, // node Ready, CoreDNS rolled out
];
