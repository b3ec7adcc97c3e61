/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node models are classes without behaviour; manifests are plain objects typed by them. */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { KubernetesObject, V1ClusterRole, V1ClusterRoleBinding, V1ConfigMap, V1Container, V1DaemonSet, V1Namespace, V1ResourceRequirements, V1SecurityContext, V1ServiceAccount } from '@kubernetes/client-node';
import { UserError } from '../../core/errors.ts';
import { parseCidr } from '../options.ts';
import { offlineImageRepository } from '../versions.ts';

export const flannelNamespace = 'kube-flannel';
/** Sorts before the single-node bridge's 10-tracelab-bridge.conflist: containerd takes the first. */
export const flannelConflistFile = '/etc/cni/net.d/10-flannel.conflist';
/** The UDP port VXLAN uses between nodes (flannel leaves it to Linux, whose default is 8472): open it in host firewalls. */
export const flannelVxlanPort = 8472;
const healthzPort = 8081;

/** flanneld built here, as `tracelab artifacts build` names it: nothing by that name can be pulled. */
export function offlineFlannelImage(version: string): string {
  return `${offlineImageRepository}/flannel:${version}`;
}

/** Upstream's image, for labs that pull. It has no CNI plugin: pair it with upstream's plugin image. */
export function upstreamFlannelImage(version: string): string {
  return `ghcr.io/flannel-io/flannel:${version}`;
}

/**
 * Which interface carries the overlay. flanneld takes the default route's interface otherwise, which
 * on Vagrant boxes is the NAT one (10.0.2.15 on every VM): the nodes then all claim one address.
 * `iface`: an interface name or one of its addresses (`--iface`). `canReach`: the interface the node
 * routes that address through (`--iface-can-reach`; on the host that has that address it finds `lo`).
 * `nodeAddress`: the interface holding the node's registered address (kubeadm's node-ip), through the
 * pod's own IP (a host-network pod has its node's): right on every node, the control plane included.
 */
export type FlannelInterface = { readonly iface: string } | { readonly canReach: string } | { readonly nodeAddress: true };

export interface FlannelResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu: string; readonly memory: string };
}

export interface FlannelOptions {
  /** The cluster's pod network (kubeadm `networking.podSubnet`); each node's share is its `spec.podCIDR`. */
  readonly podSubnet: string;
  /** flanneld's image: `offlineFlannelImage(v)` (which also holds the CNI plugin and install-conf) or `upstreamFlannelImage(v)`. */
  readonly image: string;
  /**
   * An image with the `flannel` CNI plugin at `/flannel` and a `cp` (upstream's flannel-cni-plugin).
   * @default the plugin inside `image`, installed by its install-conf
   */
  readonly cniPluginImage?: string;
  /** @default the interface of the node's default route */
  readonly interface?: FlannelInterface;
  /** @default flannelResources */
  readonly resources?: FlannelResources;
}

/** Upstream's requests; limits so a runaway daemon cannot starve a lab node. */
export const flannelResources: FlannelResources = {
  requests: { cpu: '100m', memory: '50Mi' },
  limits: { cpu: '300m', memory: '128Mi' },
};
const installResources: FlannelResources = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } };

const app = 'flannel';
const labels = {
  app,
  'app.kubernetes.io/name': app,
  'app.kubernetes.io/component': 'pod-network',
  'app.kubernetes.io/managed-by': 'tracelab',
};

function requirements(resources: FlannelResources): V1ResourceRequirements {
  return { requests: { ...resources.requests }, limits: { ...resources.limits } };
}

/** An image by tag or digest: a lab never depends on what `latest` means today. */
function pinned(image: string, option: string): string {
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  if (/\s/.test(image) || !(/^[^:]+:[\w][\w.-]*$/.test(lastPart) || /@sha256:[0-9a-f]{64}$/.test(image))) {
    throw new UserError(`flannel ${option} '${image}' is not a pinned image reference — give a tag or digest, e.g. ${upstreamFlannelImage('v0.28.10')}`);
  }
  return image;
}

function interfaceArgs(choice: FlannelInterface | undefined): string[] {
  if (choice === undefined) return [];
  if ('iface' in choice) {
    if (!/^\S+$/.test(choice.iface)) throw new UserError(`flannel interface '${choice.iface}' is not an interface name or address — e.g. eth1 or 192.168.56.10`);
    return [`--iface=${choice.iface}`];
  }
  if ('nodeAddress' in choice) return ['--iface=$(POD_IP)'];
  if (isIP(choice.canReach) === 0) throw new UserError(`flannel --iface-can-reach '${choice.canReach}' is not an IP address — give one the nodes reach over the private network, e.g. the control plane's`);
  return [`--iface-can-reach=${choice.canReach}`];
}

/** flanneld's net-conf.json: the whole pod network over VXLAN, masqueraded with iptables. */
export function renderNetConf(podSubnet: string): string {
  parseCidr(podSubnet, 'podSubnet');
  return `${JSON.stringify({ Network: podSubnet, EnableNFTables: false, Backend: { Type: 'vxlan' } }, null, 2)}\n`;
}

/**
 * The conflist each node gets: the flannel plugin reads the node's subnet from flanneld's
 * /run/flannel/subnet.env and hands the pod to the bridge plugin with host-local addresses.
 * CNI 0.4.0: the highest both tracelab's plugin build and upstream's plugin image speak.
 */
export function renderFlannelConflist(): string {
  return `${JSON.stringify(
    {
      name: 'flannel',
      cniVersion: '0.4.0',
      plugins: [
        { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/** Root with only the capabilities given, no escalation, a read-only root filesystem. */
function lockedDown(add: readonly string[] = []): V1SecurityContext {
  return {
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'], ...(add.length === 0 ? {} : { add: [...add] }) },
  };
}

/**
 * Flannel as the lab's multi-node pod network: one flanneld per node (host network) leasing the
 * node's `spec.podCIDR` (`--kube-subnet-mgr`: kubeadm's podSubnet makes the controller manager
 * allocate them), VXLAN between nodes, masquerading for traffic leaving the pod network. Init
 * containers put the CNI plugin into /opt/cni/bin and the conflist into /etc/cni/net.d.
 */
export function renderFlannel(options: FlannelOptions): KubernetesObject[] {
  const namespace = flannelNamespace;
  const netConf = renderNetConf(options.podSubnet);
  const cniConf = renderFlannelConflist();
  const iface = interfaceArgs(options.interface);
  const image = pinned(options.image, 'image');
  const cniPluginImage = options.cniPluginImage === undefined ? undefined : pinned(options.cniPluginImage, 'cniPluginImage');

  const ns: V1Namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    // hostNetwork, hostPath volumes and NET_ADMIN are beyond Pod Security "baseline".
    metadata: { name: namespace, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'privileged' } },
  };
  const serviceAccount: V1ServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: app, namespace, labels } };
  const clusterRole: V1ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: app, labels },
    // Nodes carry the leases (spec.podCIDR, flannel's annotations); NODE_NAME spares reading its own pod.
    rules: [
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
    ],
  };
  const clusterRoleBinding: V1ClusterRoleBinding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: app, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: app },
    subjects: [{ kind: 'ServiceAccount', name: app, namespace }],
  };
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'flannel-config', namespace, labels },
    data: { 'net-conf.json': netConf, 'cni-conf.json': cniConf },
  };

  // Upstream's plugin image has a shell's cp; ours carries the plugin next to install-conf.
  const pluginSource =
    cniPluginImage === undefined
      ? { image, command: ['/opt/bin/install-conf', '/flannel', '/opt/cni/bin/flannel'] }
      : { image: cniPluginImage, command: ['cp', '-f', '/flannel', '/opt/cni/bin/flannel'] };
  const initContainers: V1Container[] = [
    { name: 'install-cni-plugin', ...pluginSource, volumeMounts: [{ name: 'cni-plugin', mountPath: '/opt/cni/bin' }] },
    {
      name: 'install-cni-conf',
      image,
      command: ['/opt/bin/install-conf', '/etc/flannel/cni-conf.json', flannelConflistFile],
      volumeMounts: [
        { name: 'cni-conf', mountPath: '/etc/cni/net.d' },
        { name: 'config', mountPath: '/etc/flannel', readOnly: true },
      ],
    },
  ].map((container) => ({ ...container, imagePullPolicy: 'IfNotPresent', resources: requirements(installResources), securityContext: lockedDown() }));

  const fieldEnv = (name: string, fieldPath: string): { name: string; valueFrom: { fieldRef: { fieldPath: string } } } => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  const flanneld: V1Container = {
    name: 'flanneld',
    image,
    imagePullPolicy: 'IfNotPresent',
    command: ['/opt/bin/flanneld'],
    args: ['--ip-masq', '--kube-subnet-mgr', '--net-config-path=/etc/flannel/net-conf.json', ...iface, '--healthz-ip=127.0.0.1', `--healthz-port=${healthzPort}`],
    env: [
      fieldEnv('NODE_NAME', 'spec.nodeName'),
      fieldEnv('POD_NAME', 'metadata.name'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      fieldEnv('POD_IP', 'status.podIP'),
      { name: 'EVENT_QUEUE_DEPTH', value: '5000' },
      // Exit rather than run on a node cache that never synced: the pod restarts visibly.
      { name: 'CONT_WHEN_CACHE_NOT_READY', value: 'false' },
    ],
    // Host network: the probes reach the node's loopback, which is all flanneld listens on.
    livenessProbe: { httpGet: { host: '127.0.0.1', path: '/healthz', port: healthzPort }, initialDelaySeconds: 10, periodSeconds: 30 },
    readinessProbe: { httpGet: { host: '127.0.0.1', path: '/readyz', port: healthzPort }, initialDelaySeconds: 5, periodSeconds: 10 },
    resources: requirements(options.resources ?? flannelResources),
    // VXLAN devices, routes, neighbour entries and iptables rules of the host network namespace.
    securityContext: lockedDown(['NET_ADMIN', 'NET_RAW']),
    volumeMounts: [
      { name: 'run', mountPath: '/run/flannel' },
      { name: 'config', mountPath: '/etc/flannel', readOnly: true },
      // iptables' lock, shared with kube-proxy so their rule updates do not interleave.
      { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
    ],
  };

  const daemonSet: V1DaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: app, namespace, labels },
    spec: {
      selector: { matchLabels: { app } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: {
          labels,
          // flanneld reads its config at start: a changed config rolls the pods.
          annotations: { 'tracelab.dev/config-hash': createHash('sha256').update(netConf).update(cniConf).digest('hex').slice(0, 16) },
        },
        spec: {
          serviceAccountName: app,
          hostNetwork: true,
          priorityClassName: 'system-node-critical',
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          // Every node, not-ready ones first of all: their pod network is what makes them ready.
          tolerations: [{ operator: 'Exists' }],
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          initContainers,
          containers: [flanneld],
          volumes: [
            { name: 'run', hostPath: { path: '/run/flannel', type: 'DirectoryOrCreate' } },
            { name: 'cni-plugin', hostPath: { path: '/opt/cni/bin', type: 'DirectoryOrCreate' } },
            { name: 'cni-conf', hostPath: { path: '/etc/cni/net.d', type: 'DirectoryOrCreate' } },
            { name: 'config', configMap: { name: 'flannel-config' } },
            { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
          ],
        },
      },
    },
  };
  return [ns, serviceAccount, clusterRole, clusterRoleBinding, configMap, daemonSet];
}
