/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are data-only classes; literals are how they are built */
// What the real-node bootstrap tests share.
import assert from 'node:assert/strict';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { withLibraries } from '../../bootstrap/artifacts/kubeadm-images.ts';
import { ociImageArchive } from '../../bootstrap/artifacts/oci-image.ts';
import type { KubeClient } from '../../core/kube/client.ts';

/** What a node holds that bootstrap may change: files, mounts, iptables rules, links, processes, sysctls. */
export const snapshotScript = `
echo '## files'; find /etc/kubernetes /var/lib/kubelet /run/containerd /var/lib/containerd /etc/containerd /etc/cni/net.d /var/lib/cni /opt/cni/bin /etc/tracelab /var/lib/tracelab /usr/local/bin /etc/modules-load.d /etc/sysctl.d 2>/dev/null | sort
echo '## mounts'; awk '{print $5}' /proc/self/mountinfo | grep -v '^/run/netns' | sort
echo '## iptables rules'; iptables-save | grep -e '^-A' -e '^:.* - '; ip6tables-save | grep -e '^-A' -e '^:.* - '
echo '## links'; ip -o link | awk '{print $2}'
echo "## processes (the snapshot's own pipeline left out)"; me=$(readlink /proc/self/ns/mnt); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$me" ] && cat $p/comm 2>/dev/null; done | grep -v -x -e sh -e awk -e sort -e uniq -e grep -e cat -e readlink | sort | uniq -c
echo '## sysctls'; sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables 2>&1
`;


/** A Node.js image made from this test's own Node binary, imported into a node's containerd like every lab image: nothing is pulled. */
export const nodeTestImage = 'tracelab.local/test/node:24';

export async function nodeTestImageArchive(): Promise<Buffer> {
  return (await ociImageArchive({ name: nodeTestImage, files: await withLibraries(process.execPath, []), config: { Entrypoint: [process.execPath] } })).archive;
}

/** A container of the test image running a Node.js script. */
export function scriptContainer(name: string, script: string): { name: string; image: string; imagePullPolicy: string; args: string[] } {
  return { name, image: nodeTestImage, imagePullPolicy: 'Never', args: ['-e', script] };
}

/** Namespace dns-check with Deployment and Service `web`, answering "hello from <pod>" on port 80; optionally on one node. */
export function webObjects(nodeName?: string): KubernetesObject[] {
  const labels = { app: 'web' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dns-check' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'dns-check' },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            ...(nodeName === undefined ? {} : { nodeSelector: { 'kubernetes.io/hostname': nodeName } }),
            containers: [{ ...scriptContainer('server', "require('http').createServer((q, s) => s.end('hello from ' + require('os').hostname())).listen(8080)"), readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }],
          },
        },
      },
    } as KubernetesObject,
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'dns-check' }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } } as KubernetesObject,
  ];
}

/** Creates a pod that runs to its end, waits for it (2 minutes at most) and returns its log; fails unless it Succeeded. */
export async function runToCompletion(kube: KubeClient, pod: V1Pod): Promise<string> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  const pods = await kube.path({ apiVersion: 'v1', kind: 'Pod', namespace });
  await kube.request('POST', pods, { body: pod });
  const deadline = Date.now() + 120_000;
  let phase: string | undefined;
  while (phase !== 'Succeeded' && phase !== 'Failed') {
    assert.ok(Date.now() < deadline, `pod ${name} finished (phase ${String(phase)})`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    phase = (await kube.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', name, namespace }))?.status?.phase;
  }
  const log = await kube.request<string>('GET', `${pods}/${name}/log`, { responseType: 'text' });
  assert.equal(phase, 'Succeeded', log);
  return log;
}
