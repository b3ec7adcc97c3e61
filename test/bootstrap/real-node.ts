// What the real-node bootstrap tests share.

/** What a node holds that bootstrap may change: files, mounts, iptables rules, links, processes, sysctls. */
export const snapshotScript = `
echo '## files'; find /etc/kubernetes /var/lib/kubelet /run/containerd /var/lib/containerd /etc/containerd /etc/cni/net.d /var/lib/cni /opt/cni/bin /etc/tracelab /var/lib/tracelab /usr/local/bin /etc/modules-load.d /etc/sysctl.d 2>/dev/null | sort
echo '## mounts'; awk '{print $5}' /proc/self/mountinfo | grep -v '^/run/netns' | sort
echo '## iptables rules'; iptables-save | grep -e '^-A' -e '^:.* - '; ip6tables-save | grep -e '^-A' -e '^:.* - '
echo '## links'; ip -o link | awk '{print $2}'
echo "## processes (the snapshot's own pipeline left out)"; me=$(readlink /proc/self/ns/mnt); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$me" ] && cat $p/comm 2>/dev/null; done | grep -v -x -e sh -e awk -e sort -e uniq -e grep -e cat -e readlink | sort | uniq -c
echo '## sysctls'; sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables 2>&1
`;

