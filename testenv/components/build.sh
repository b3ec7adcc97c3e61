#!/usr/bin/env bash
# Builds the real Go test components into ${TRACELAB_CACHE:-$HOME/.cache/tracelab}/bin.
#
#   bash testenv/components/build.sh                     # all, in dependency-friendly order
#   bash testenv/components/build.sh jaeger prometheus   # a subset
#   bash testenv/components/build.sh node-all            # the real-node components (NODE below)
#   bash testenv/components/build.sh buildkit registry kube-score   # image builds, manifest checks
#   bash testenv/components/build.sh istio               # the mesh layer's istiod, istioctl, istio-cni
#
# Each component is built from a small wrapper module under $CACHE/src/<name>/ that requires
# the upstream module and mirrors its replace/exclude directives (upstream go.mod files use
# local-path replaces, so `go install pkg@version` does not work). A component is skipped when
# its binaries exist and $CACHE/stamps/<name> records the same pinned version.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

CACHE=${TRACELAB_CACHE:-$HOME/.cache/tracelab}
BIN=$CACHE/bin
SRC=$CACHE/src
STAMPS=$CACHE/stamps
mkdir -p "$BIN" "$SRC" "$STAMPS"

# Modules may ask for a newer Go than the machine's; the go command fetches that toolchain from
# the module proxy. Kept in step with the newest toolchain any pinned component needs.
export GOTOOLCHAIN=${TRACELAB_GOTOOLCHAIN:-go1.26.8+auto}
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=0

# What a real kubeadm node runs (testenv/nodes/, tracelab artifacts build); `build.sh node-all` builds these.
NODE=(pause cni crictl containerd coredns node flannel)
# The monitoring layer's programs that are not test components already (jaeger, prometheus): its images on real nodes.
MONITORING=(node-exporter metrics-server)
# Images built and shipped without a public registry (BuildKit, a local registry, the storage provisioner) and kube-score's manifest checks.
IMAGE_TOOLS=(buildkit rootlesskit registry kube-score local-path-provisioner)
# The mesh layer's istiod, istio-cni node agent and plugin, and istioctl (about 8 minutes cold on 2 cores).
MESH=(istio)
# The longest builds first, so that the two at a time end close together.
ALL=(kubernetes jaeger prometheus "${MESH[@]}" etcd kwok "${NODE[@]}" "${MONITORING[@]}" "${IMAGE_TOOLS[@]}")

log() { printf '==> %s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

# stamp_ok NAME STAMP FILE... : true when every file (relative to $CACHE) exists and the stamp matches.
stamp_ok() {
  local name=$1 stamp=$2; shift 2
  [[ -f $STAMPS/$name && $(cat "$STAMPS/$name") == "$stamp" ]] || return 1
  local f; for f in "$@"; do [[ -s $CACHE/$f ]] || return 1; done
}

# quiet_go ARGS... : `go ARGS` without the per-module "go: downloading/added" chatter.
quiet_go() {
  go "$@" 2>&1 | { grep -Ev '^go: (downloading|added|upgraded|finding|found) ' || true; }
}

# new_wrapper NAME MODULE VERSION LOCAL_VERSION_CMD
# Creates $SRC/NAME/go.mod requiring MODULE@VERSION, with the upstream replace and exclude
# directives mirrored. Upstream replaces that point at a local path (./staging/..., ../api)
# become `Old => Old <v>` where <v> is printed by LOCAL_VERSION_CMD given the old module path;
# local replaces of modules that upstream does not require are dropped.
new_wrapper() {
  local name=$1 module=$2 version=$3 local_version=$4
  local dir=$SRC/$name
  rm -rf "$dir" && mkdir -p "$dir"
  local info gomod
  info=$(cd "$dir" && go mod download -json "$module@$version") || die "cannot download $module@$version from the module proxy"
  gomod=$(jq -r .GoMod <<<"$info")
  (
    cd "$dir"
    go mod init "tracelab.local/components/$name" >/dev/null 2>&1
    local args=()
    local old new newv
    local required
    required=$(go mod edit -json "$gomod" | jq -r '(.Require // [])[] | .Path')
    while IFS=$'\t' read -r old new newv; do
      if [[ $new == .* || $new == /* ]]; then
        # a local replace of a module upstream does not require is a guard (etcd's FORBIDDEN_DEPENDENCY)
        grep -qxF "$old" <<<"$required" || continue
        args+=("-replace=$old=$old@$("$local_version" "$old")")
      elif [[ -n $newv ]]; then
        args+=("-replace=$old=$new@$newv")
      else
        args+=("-replace=$old=$new")
      fi
    done < <(go mod edit -json "$gomod" | jq -r '(.Replace // [])[] | select(.Old.Version == null) | [.Old.Path, .New.Path, (.New.Version // "")] | @tsv')
    while read -r ex; do
      args+=("-exclude=$ex")
    done < <(go mod edit -json "$gomod" | jq -r '(.Exclude // [])[] | "\(.Path)@\(.Version)"')
    if ((${#args[@]})); then go mod edit "${args[@]}"; fi
  )
}

# go_get_tools NAME PKG@VERSION... : records the main packages as tools of the wrapper module.
go_get_tools() {
  local name=$1; shift
  (cd "$SRC/$name" && quiet_go get -tool "$@")
}

# go_build NAME LDFLAGS PKG... : one `go build` for all packages so the compile is shared.
go_build() {
  local name=$1 ldflags=$2; shift 2
  (cd "$SRC/$name" && go build -trimpath -ldflags="-s -w $ldflags" -o "$BIN/" "$@")
}

same_version() { printf '%s' "$VERSION_FOR_LOCAL"; }

build_jaeger() {
  VERSION_FOR_LOCAL=$JAEGER_VERSION
  new_wrapper jaeger github.com/jaegertracing/jaeger "$JAEGER_VERSION" same_version
  go_get_tools jaeger "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION"
  go_build jaeger "" github.com/jaegertracing/jaeger/cmd/jaeger
}

build_prometheus() {
  VERSION_FOR_LOCAL=$PROMETHEUS_VERSION
  local m=github.com/prometheus/prometheus
  # v0.3MM.P is Prometheus 3.MM.P
  local minor=${PROMETHEUS_VERSION#v0.3}; minor=${minor%%.*}; minor=$((10#$minor))
  local release=3.$minor.${PROMETHEUS_VERSION##*.}
  new_wrapper prometheus $m "$PROMETHEUS_VERSION" same_version
  go_get_tools prometheus "$m/cmd/prometheus@$PROMETHEUS_VERSION" "$m/cmd/promtool@$PROMETHEUS_VERSION"
  local v=github.com/prometheus/common/version
  go_build prometheus "-X $v.Version=$release -X $v.Branch=HEAD -X $v.BuildUser=tracelab" \
    $m/cmd/prometheus $m/cmd/promtool
}

build_etcd() {
  VERSION_FOR_LOCAL=$ETCD_VERSION
  new_wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" same_version
  (cd "$SRC/etcd" && quiet_go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  (cd "$SRC/etcd" && go build -trimpath -ldflags="-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
}

# k8s.io/kubernetes vX.Y.Z publishes its staging modules as k8s.io/<name> v0.Y.Z
staging_version() { local v=${KUBERNETES_VERSION#v1.}; printf 'v0.%s' "$v"; }

# kubernetes_wrapper : makes $SRC/kubernetes unless it already requires the pinned version, so the
# `kubernetes` and `node` components share one module and one compile cache.
kubernetes_wrapper() {
  local pinned=""
  [[ -f $SRC/kubernetes/go.mod ]] &&
    pinned=$(go mod edit -json "$SRC/kubernetes/go.mod" | jq -r '(.Require // [])[] | select(.Path == "k8s.io/kubernetes") | .Version')
  [[ $pinned == "$KUBERNETES_VERSION" ]] || new_wrapper kubernetes k8s.io/kubernetes "$KUBERNETES_VERSION" staging_version
}

# build_kubernetes_cmds CMD... : k8s.io/kubernetes/cmd/CMD binaries with the release's version ldflags.
build_kubernetes_cmds() {
  local m=k8s.io/kubernetes minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  kubernetes_wrapper
  local cmd pkgs=() tools=()
  for cmd in "$@"; do
    pkgs+=("$m/cmd/$cmd")
    tools+=("$m/cmd/$cmd@$KUBERNETES_VERSION")
  done
  go_get_tools kubernetes "${tools[@]}"
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  go_build kubernetes "$ld" "${pkgs[@]}"
}

build_kubernetes() { build_kubernetes_cmds kube-apiserver kube-controller-manager kube-scheduler kubectl; }

build_node() { build_kubernetes_cmds kubelet kubeadm kube-proxy; }

# go_install DEST LDFLAGS TAGS PKG@VERSION... : for modules without replace directives, which
# `go install pkg@version` builds as released (no wrapper module needed).
go_install() {
  local dest=$1 ldflags=$2 tags=$3; shift 3
  mkdir -p "$dest"
  GOBIN=$dest quiet_go install -trimpath -tags="$tags" -ldflags="-s -w $ldflags" "$@"
}

build_containerd() {
  local m=github.com/containerd/containerd/v2
  go_install "$BIN" "-X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Revision=tracelab" \
    "no_btrfs no_devmapper no_zfs" \
    "$m/cmd/containerd@$CONTAINERD_VERSION" "$m/cmd/ctr@$CONTAINERD_VERSION" "$m/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
}

build_cni() {
  local m=github.com/containernetworking/plugins/plugins
  go_install "$BIN/cni" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" "" \
    "$m/main/bridge@$CNI_PLUGINS_VERSION" "$m/ipam/host-local@$CNI_PLUGINS_VERSION" \
    "$m/main/loopback@$CNI_PLUGINS_VERSION" "$m/meta/portmap@$CNI_PLUGINS_VERSION"
}

# the github.com/kubernetes-sigs/cri-tools path is not served by the module proxy
build_crictl() {
  go_install "$BIN" "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" "" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
}

build_node-exporter() {
  local v=github.com/prometheus/common/version
  go_install "$BIN" "-X $v.Version=${NODE_EXPORTER_VERSION#v} -X $v.Branch=HEAD -X $v.BuildUser=tracelab" "" \
    "github.com/prometheus/node_exporter@$NODE_EXPORTER_VERSION"
  mv -f "$BIN/node_exporter" "$BIN/node-exporter"
}

build_metrics-server() {
  go_install "$BIN" "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" "" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
}

build_coredns() {
  go_install "$BIN" "" "" "github.com/coredns/coredns@$COREDNS_VERSION"
}

# flanneld and its install-conf (the DaemonSet's init step), and the `flannel` CNI plugin from
# containernetworking/plugins (github.com/flannel-io/cni-plugin is not served by the module proxy).
build_flannel() {
  local m=github.com/flannel-io/flannel vpc=github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc
  local src=$SRC/flannel upstream
  upstream=$(go mod download -json "$m@$FLANNEL_VERSION" | jq -r .Dir) || die "cannot download $m@$FLANNEL_VERSION from the module proxy"
  rm -rf "$src" && cp -r "$upstream" "$src" && chmod -R u+w "$src"
  # Built in a copy of the module, with two changes. The tencentcloud VPC SDK version flannel
  # requires (for its tencentvpc backend) is not served; the one flannel v0.28.4 required is.
  (cd "$src" && go mod edit "-replace=$vpc=$vpc@v1.3.75")
  # On amd64 the UDP backend is C code (upstream builds flanneld with cgo there); built without
  # cgo, flanneld leaves that backend out: main.go loses the backend's import.
  local udp=$'\t_ "github.com/flannel-io/flannel/pkg/backend/udp"'
  [[ $(grep -cxF "$udp" "$src/main.go") == 1 ]] || die "$m@$FLANNEL_VERSION main.go no longer imports the UDP backend on one line: review build_flannel"
  grep -vxF "$udp" "$upstream/main.go" >"$src/main.go"
  (
    cd "$src"
    export GOFLAGS="$GOFLAGS -mod=mod"
    quiet_go build -trimpath -ldflags="-s -w -X $m/pkg/version.Version=$FLANNEL_VERSION" -o "$BIN/flanneld" .
    quiet_go build -trimpath -ldflags="-s -w" -o "$BIN/flannel-install-conf" ./cmd/install_conf
  )
  go_install "$BIN/cni" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$FLANNEL_CNI_PLUGIN_VERSION" "" \
    "github.com/containernetworking/plugins/plugins/meta/flannel@$FLANNEL_CNI_PLUGIN_VERSION"
}

# `go install` refuses a module whose go.mod has exclude directives, as BuildKit's has: built in a copy.
build_buildkit() {
  local m=github.com/moby/buildkit src=$SRC/buildkit upstream
  upstream=$(go mod download -json "$m@$BUILDKIT_VERSION" | jq -r .Dir) || die "cannot download $m@$BUILDKIT_VERSION from the module proxy"
  rm -rf "$src" && cp -r "$upstream" "$src" && chmod -R u+w "$src"
  (
    cd "$src"
    export GOFLAGS="$GOFLAGS -mod=mod"
    quiet_go build -trimpath -ldflags="-s -w -X $m/version.Version=$BUILDKIT_VERSION -X $m/version.Revision=tracelab" \
      -o "$BIN/" ./cmd/buildkitd ./cmd/buildctl
  )
}

# rootless BuildKit's user-namespace helper (the entrypoint of upstream's -rootless image)
build_rootlesskit() {
  go_install "$BIN" "" "" "github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit@$ROOTLESSKIT_VERSION"
}

build_registry() {
  local m=github.com/distribution/distribution/v3
  go_install "$BIN" "-X $m/version.version=$DISTRIBUTION_VERSION -X $m/version.revision=tracelab" "" \
    "$m/cmd/registry@$DISTRIBUTION_VERSION"
}

# goreleaser sets main.version to the tag without its v
build_kube-score() {
  go_install "$BIN" "-X main.version=${KUBE_SCORE_VERSION#v}" "" "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
}

# the storage layer's provisioner; upstream's build sets main.VERSION
build_local-path-provisioner() {
  go_install "$BIN" "-X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" "" "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
}

# istio.io/istio has no replace or exclude lines: `go install` builds it. The -X flags are the ones
# upstream's common/scripts/report_build_info.sh sets (istioctl's manifests take hub and tag from
# buildHub and buildVersion); the tags are upstream's STANDARD_TAGS and AGENT_TAGS (Makefile.core.mk).
build_istio() {
  local m=istio.io/istio v=istio.io/istio/pkg/version
  local ld="-X $v.buildVersion=$ISTIO_RELEASE -X $v.buildGitRevision=${ISTIO_VERSION##*-} -X $v.buildTag=$ISTIO_VERSION"
  ld+=" -X $v.buildStatus=Clean -X $v.buildHub=$ISTIO_HUB -X $v.buildOS=linux -X $v.buildArch=$(go env GOARCH)"
  go_install "$BIN" "$ld" "vtprotobuf,disable_pgv" \
    "$m/pilot/cmd/pilot-discovery@$ISTIO_VERSION" "$m/istioctl/cmd/istioctl@$ISTIO_VERSION"
  go_install "$BIN" "$ld" "agent,disable_pgv,grpcnotrace,retrynotrace" \
    "$m/cni/cmd/install-cni@$ISTIO_VERSION" "$m/cni/cmd/istio-cni@$ISTIO_VERSION"
  mkdir -p "$BIN/cni" && mv -f "$BIN/istio-cni" "$BIN/cni/istio-cni"
}

# The pause program is ours (testenv/components/pause/main.go): its version is its source's hash.
pause_version() { sha256sum "$here/pause/main.go" | cut -c1-16; }

build_pause() {
  local dir=$SRC/pause
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$here/pause/main.go" "$dir/"
  (cd "$dir" && go mod init tracelab.local/components/pause >/dev/null 2>&1)
  go_build pause "" .
}

build_kwok() {
  VERSION_FOR_LOCAL=$KWOK_VERSION
  local m=sigs.k8s.io/kwok
  new_wrapper kwok $m "$KWOK_VERSION" same_version
  go_get_tools kwok "$m/cmd/kwok@$KWOK_VERSION" "$m/cmd/kwokctl@$KWOK_VERSION"
  go_build kwok "-X $m/pkg/consts.Version=$KWOK_VERSION -X $m/pkg/consts.KubeVersion=$KUBERNETES_VERSION" \
    $m/cmd/kwok $m/cmd/kwokctl
  # The kwok controller reads its stages from --config; these are the ones kwokctl uses by default
  # (fast node init, lease heartbeat, pods Ready, Job pods Completed, deletion).
  local src stages=$CACHE/share/kwok/stages.yaml
  src=$(cd "$SRC/kwok" && go list -m -f '{{.Dir}}' $m)/kustomize/stage
  mkdir -p "$(dirname "$stages")"
  {
    echo "# generated by testenv/components/build.sh from $m@$KWOK_VERSION kustomize/stage"
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo '---'
      cat "$src/$f"
    done
  } >"$stages"
}

# component NAME -> "version files..." (files relative to $CACHE)
component() {
  case $1 in
    jaeger) echo "$JAEGER_VERSION bin/jaeger" ;;
    prometheus) echo "$PROMETHEUS_VERSION bin/prometheus bin/promtool" ;;
    etcd) echo "$ETCD_VERSION bin/etcd" ;;
    kubernetes) echo "$KUBERNETES_VERSION bin/kube-apiserver bin/kube-controller-manager bin/kube-scheduler bin/kubectl" ;;
    kwok) echo "$KWOK_VERSION bin/kwok bin/kwokctl share/kwok/stages.yaml" ;;
    node) echo "$KUBERNETES_VERSION bin/kubelet bin/kubeadm bin/kube-proxy" ;;
    containerd) echo "$CONTAINERD_VERSION bin/containerd bin/ctr bin/containerd-shim-runc-v2" ;;
    cni) echo "$CNI_PLUGINS_VERSION bin/cni/bridge bin/cni/host-local bin/cni/loopback bin/cni/portmap" ;;
    crictl) echo "$CRICTL_VERSION bin/crictl" ;;
    coredns) echo "$COREDNS_VERSION bin/coredns" ;;
    flannel) echo "$FLANNEL_VERSION+cni-$FLANNEL_CNI_PLUGIN_VERSION bin/flanneld bin/flannel-install-conf bin/cni/flannel" ;;
    node-exporter) echo "$NODE_EXPORTER_VERSION bin/node-exporter" ;;
    metrics-server) echo "$METRICS_SERVER_VERSION bin/metrics-server" ;;
    pause) echo "$(pause_version) bin/pause" ;;
    buildkit) echo "$BUILDKIT_VERSION bin/buildkitd bin/buildctl" ;;
    rootlesskit) echo "$ROOTLESSKIT_VERSION bin/rootlesskit" ;;
    registry) echo "$DISTRIBUTION_VERSION bin/registry" ;;
    kube-score) echo "$KUBE_SCORE_VERSION bin/kube-score" ;;
    local-path-provisioner) echo "$LOCAL_PATH_PROVISIONER_VERSION bin/local-path-provisioner" ;;
    istio) echo "$ISTIO_VERSION+$ISTIO_RELEASE+$ISTIO_HUB bin/pilot-discovery bin/istioctl bin/install-cni bin/cni/istio-cni" ;;
    *) die "unknown component '$1' (known: ${ALL[*]} ${NODE[*]}; node-all = ${NODE[*]})" ;;
  esac
}

# Builds run two at a time: a large module's build spends much of its time in single-threaded
# compiles and links, so a second one fills the other core. TRACELAB_BUILD_JOBS=1 builds one by one.
JOBS=${TRACELAB_BUILD_JOBS:-2}
LOGS=$CACHE/logs
# Components sharing a wrapper module ($SRC/kubernetes) are built one after the other, in one lane.
SHARED_LANES=("kubernetes node")

# build_lane NAME... : builds each component (stamp removed first, written last), in order.
build_lane() {
  local name line spec version start
  for name in "$@"; do
    line=$(component "$name"); read -ra spec <<<"$line"
    version=${spec[0]}
    start=$SECONDS
    log "building $name $version"
    rm -f "$STAMPS/$name"
    "build_$name"
    printf '%s' "$version" >"$STAMPS/$name"
    log "built $name $version in $((SECONDS - start))s -> ${spec[*]:1}"
  done
}

main() {
  command -v go >/dev/null || die "go is not on PATH: install Go >= 1.26"
  command -v jq >/dev/null || die "jq is not on PATH: apt-get install -y jq"
  local names=() arg
  for arg in "$@"; do
    if [[ $arg == node-all ]]; then names+=("${NODE[@]}"); else names+=("$arg"); fi
  done
  ((${#names[@]})) || names=("${ALL[@]}")
  local name line
  for name in "${names[@]}"; do component "$name" >/dev/null || exit 2; done
  local todo=()
  for name in "${names[@]}"; do
    local spec; line=$(component "$name"); read -ra spec <<<"$line"
    if stamp_ok "$name" "${spec[0]}" "${spec[@]:1}"; then
      log "$name ${spec[0]} already built (${spec[*]:1})"
    else
      todo+=("$name")
    fi
  done
  # Lanes: one component each, except those that share a wrapper module, which go together.
  local lanes=() lane shared member joined
  for name in "${todo[@]}"; do
    joined=
    for shared in "${SHARED_LANES[@]}"; do
      [[ " $shared " == *" $name "* ]] || continue
      lane=
      for member in $shared; do [[ " ${todo[*]} " == *" $member "* ]] && lane+="$member "; done
      [[ ${lane%% *} == "$name" ]] && lanes+=("${lane% }")
      joined=1
    done
    [[ -n $joined ]] || lanes+=("$name")
  done
  mkdir -p "$LOGS"
  local -A running=()
  local failed=() pid status
  finish() { # PID STATUS: prints the lane's log, records a failure
    local lane=${running[$1]} status=$2
    cat "$LOGS/${lane%% *}.log"
    ((status == 0)) || { failed+=("$lane"); printf 'build.sh: failed to build %s (log: %s, wrapper module in %s)\n' "$lane" "$LOGS/${lane%% *}.log" "$SRC/${lane%% *}" >&2; }
    unset "running[$1]"
  }
  for lane in "${lanes[@]}"; do
    while ((${#running[@]} >= JOBS)); do
      status=0; wait -n -p pid "${!running[@]}" || status=$?
      finish "$pid" "$status"
    done
    # shellcheck disable=SC2086 # a lane is a list of names
    (set -e; build_lane $lane) >"$LOGS/${lane%% *}.log" 2>&1 &
    running[$!]=$lane
    log "started $lane"
  done
  while ((${#running[@]} > 0)); do
    status=0; wait -n -p pid "${!running[@]}" || status=$?
    finish "$pid" "$status"
  done
  ((${#failed[@]} == 0)) || exit 1
}

main "$@"
