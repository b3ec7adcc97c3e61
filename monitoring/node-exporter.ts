/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import type { KubernetesObject, V1DaemonSet, V1Service } from '@kubernetes/client-node';
import { componentEphemeralStorage, componentResources, hardenedContainer, images, kubeScoreIgnores, labelsFor, namespaces, resourceRequirements, selectorFor } from './common.ts';

export interface NodeExporterOptions {
  /** Node labels a node must carry to get an exporter; empty: every node, control plane included. */
  readonly nodeSelector: Readonly<Record<string, string>>;
}

const app = 'node-exporter';
export const nodeExporterPort = 9100;

/**
 * node-exporter is the lab's DaemonSet: one pod per selected node, reading the host's /proc,
 * /sys and root filesystem with the host's network and PID namespaces. Those host namespaces
 * and hostPath volumes are exactly what Pod Security "restricted" and "baseline" forbid, so the
 * `monitoring` namespace enforces "privileged" (and audits "restricted"); everything else in it
 * still meets "restricted", and this pod keeps every other guard: non-root, read-only root
 * filesystem, no capabilities, no privilege escalation, RuntimeDefault seccomp, limits.
 */
export function renderNodeExporter(options: NodeExporterOptions): KubernetesObject[] {
  const namespace = namespaces.monitoring;
  const labels = labelsFor(app, 'node-metrics');
  const hostVolumes = [
    { name: 'proc', hostPath: '/proc', mountPath: '/host/proc' },
    { name: 'sys', hostPath: '/sys', mountPath: '/host/sys' },
    { name: 'root', hostPath: '/', mountPath: '/host/root' },
  ];
  const daemonSet: V1DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: app, namespace, labels, annotations: kubeScoreIgnores() },
    spec: {
      selector: { matchLabels: selectorFor(app) },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          hostNetwork: true,
          hostPID: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          ...(Object.keys(options.nodeSelector).length === 0 ? {} : { nodeSelector: { ...options.nodeSelector } }),
          // Every node of the selection, the control plane included: a node down is a node down.
          tolerations: [{ operator: 'Exists' }],
          securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            hardenedContainer({
              name: app,
              image: images.nodeExporter,
              args: [
                '--path.procfs=/host/proc',
                '--path.sysfs=/host/sys',
                '--path.rootfs=/host/root',
                `--web.listen-address=:${nodeExporterPort}`,
                '--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|var/lib/kubelet/.+|var/lib/containerd/.+)($|/)',
              ],
              ports: [{ name: 'metrics', containerPort: nodeExporterPort }],
              // Ready once it answers HTTP; alive while it accepts connections.
              readinessProbe: { httpGet: { path: '/', port: 'metrics' }, periodSeconds: 10 },
              livenessProbe: { tcpSocket: { port: 'metrics' }, periodSeconds: 20, failureThreshold: 3 },
              resources: resourceRequirements(componentResources.nodeExporter, componentEphemeralStorage.nodeExporter),
              volumeMounts: hostVolumes.map((volume) => ({
                name: volume.name,
                mountPath: volume.mountPath,
                readOnly: true,
                ...(volume.name === 'root' ? { mountPropagation: 'HostToContainer' } : {}),
              })),
            }),
          ],
          volumes: hostVolumes.map((volume) => ({ name: volume.name, hostPath: { path: volume.hostPath } })),
        },
      },
    },
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: app, namespace, labels },
    spec: {
      clusterIP: 'None',
      selector: selectorFor(app),
      ports: [{ name: 'metrics', port: nodeExporterPort, targetPort: 'metrics', appProtocol: 'http' }],
    },
  };
  return [daemonSet, service];
}
