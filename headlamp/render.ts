/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; typed object literals are how they are built */
import type { KubernetesObject, V1ClusterRole, V1ClusterRoleBinding, V1Deployment, V1Namespace, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { restrictedContainerSecurity, restrictedPodSecurity } from '../monitoring/common.ts';
import { headlampContainerPort, headlampNamespace, headlampService, headlampServicePort, headlampViewer } from './address.ts';
import { renderHeadlampNetworkPolicies } from './network-policies.ts';
import type { HeadlampOptions } from './options.ts';

const name = 'headlamp';
const labels = { app: name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'tracelab-headlamp', 'app.kubernetes.io/managed-by': 'tracelab' };

function renderNamespace(): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: headlampNamespace,
      labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
    },
  };
}

/**
 * Two accounts. `headlamp` is the pod's: bound to nothing, it has no rights — its token only
 * tells Headlamp's in-cluster mode the API server's address and CA. `headlamp-viewer` is the one
 * people sign in as, with a short-lived token `tracelab ui` asks the TokenRequest API for; no pod
 * mounts it.
 */
function renderServiceAccounts(): V1ServiceAccount[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: headlampNamespace, labels } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: headlampViewer, namespace: headlampNamespace, labels }, automountServiceAccountToken: false },
  ];
}

/**
 * What a signed-in person may do: the built-in `view` ClusterRole in every namespace — read most
 * objects, logs included, but no Secrets, no Roles or RoleBindings, no exec, no port-forward, no
 * change of any kind — plus reading Nodes (cluster-scoped, outside `view`), which Headlamp's
 * cluster overview lists first.
 */
function renderViewerRights(): KubernetesObject[] {
  const nodesReader: V1ClusterRole = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'tracelab-headlamp-nodes-reader', labels },
    rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }],
  };
  const bind = (bindingName: string, role: string): V1ClusterRoleBinding => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: bindingName, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'ServiceAccount', name: headlampViewer, namespace: headlampNamespace }],
  });
  return [nodesReader, bind('tracelab-headlamp-viewer', 'view'), bind('tracelab-headlamp-viewer-nodes', nodesReader.metadata?.name ?? '')];
}

function renderDeployment(options: HeadlampOptions): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    // The image is pinned; an air-gapped lab has nowhere to pull it again (README, kube-score).
    metadata: { name, namespace: headlampNamespace, labels, annotations: { 'kube-score/ignore': 'container-image-pull-policy' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          // In-cluster mode reads the API server's CA and namespace from the mounted account (which has no rights).
          automountServiceAccountToken: true,
          securityContext: restrictedPodSecurity(),
          containers: [
            {
              name,
              image: options.image,
              imagePullPolicy: 'IfNotPresent',
              args: ['-in-cluster', '-plugins-dir=/headlamp/plugins'],
              ports: [{ name: 'http', containerPort: headlampContainerPort, protocol: 'TCP' }],
              resources: { requests: { cpu: '25m', memory: '64Mi', 'ephemeral-storage': '16Mi' }, limits: { cpu: '500m', memory: '256Mi', 'ephemeral-storage': '128Mi' } },
              securityContext: structuredClone(restrictedContainerSecurity),
              readinessProbe: { httpGet: { path: '/', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
              livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 20, failureThreshold: 3 },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

function renderService(): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: headlampService, namespace: headlampNamespace, labels },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: headlampServicePort, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }] },
  };
}

/** Headlamp, the Kubernetes web UI (the archived Kubernetes Dashboard's successor), read-only for the people who sign in. */
export function renderHeadlamp(options: HeadlampOptions): KubernetesObject[] {
  return [renderNamespace(), ...renderServiceAccounts(), ...renderViewerRights(), renderDeployment(options), renderService(), ...renderHeadlampNetworkPolicies()];
}
