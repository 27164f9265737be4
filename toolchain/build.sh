#!/usr/bin/env bash
# Builds the pinned e2e toolchain from the Go module proxy into a cache outside the checkout:
#   ${PHASESTACK_TOOLCHAIN_HOME:-~/.cache/phasestack/toolchain}/<key>/bin
# <key> is a hash of versions.env, so a second run only checks stamps (seconds). Components can
# build in parallel processes (a lock per component).
# Prints the bin directory on its last line. Usage: toolchain/build.sh [component ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
key="$(sha256sum < "$here/versions.env" | cut -c1-12)"
root="${PHASESTACK_TOOLCHAIN_HOME:-$HOME/.cache/phasestack/toolchain}/$key"
bin="$root/bin"; work="$root/work"; stamps="$root/stamps"
mkdir -p "$bin" "$work" "$stamps"
export GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0
export GONOSUMDB="${GONOSUMDB:-}" GOSUMDB="${GOSUMDB:-sum.golang.org}"
LDS="-s -w"

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

step() {  # step NAME FUNCTION: run once per cache key
  local name="$1" fn="$2"
  exec 9>"$stamps/$name.lock"; flock 9
  if [[ -f "$stamps/$name" ]]; then return 0; fi
  log "building $name"
  local t0=$SECONDS
  "$fn"
  echo "$((SECONDS - t0))" > "$stamps/$name"
  log "built $name in $((SECONDS - t0)) s"
}

# A throwaway wrapper module: the tools' own go.mod files carry `replace` directives that
# `go install pkg@version` refuses, so the wrapper restates them.
wrapper() {  # wrapper DIR
  rm -rf "$1"; mkdir -p "$1"; cd "$1"
  go mod init phasestack.local/toolchain >/dev/null 2>&1
}

build_pulumi() {
  wrapper "$work/pulumi"
  go mod edit \
    -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e \
    -replace=golang.org/x/text=golang.org/x/text@v0.39.0 \
    -require=github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION
  go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION"
  go build -trimpath -o "$bin/pulumi" \
    -ldflags "$LDS -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

build_kubernetes_provider() {
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  local dir
  dir="$(go mod download -json "$mod@$PULUMI_KUBERNETES_MODULE_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  rm -rf "$work/kubernetes-provider"; cp -r "$dir" "$work/kubernetes-provider"
  chmod -R u+w "$work/kubernetes-provider"; cd "$work/kubernetes-provider"
  # the module replaces its SDK with ../sdk (not in the zip): take the released SDK instead
  go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
    -require=github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_KUBERNETES_VERSION
  go mod tidy >/dev/null 2>&1 || go mod download
  (cd cmd/pulumi-resource-kubernetes && VERSION="$PULUMI_KUBERNETES_VERSION" go generate ./...)
  go build -trimpath -o "$bin/pulumi-resource-kubernetes" \
    -ldflags "$LDS -X $mod/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
    ./cmd/pulumi-resource-kubernetes
}

build_kubernetes() {
  wrapper "$work/kubernetes"
  local minor="${KUBERNETES_VERSION#*.}"; minor="${minor%%.*}"
  local staging="0.${KUBERNETES_VERSION#*.}"
  go mod edit -require="k8s.io/kubernetes@v$KUBERNETES_VERSION"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
  # paths: point each at its published version
  local m
  for m in $(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])' \
      | xargs sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p'); do
    go mod edit -replace="$m=$m@v$staging"
  done
  go get "k8s.io/kubernetes@v$KUBERNETES_VERSION"
  local v=k8s.io/component-base/version
  go build -trimpath -o "$bin/" -ldflags "$LDS -X $v.gitVersion=v$KUBERNETES_VERSION \
      -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean \
      -X k8s.io/client-go/pkg/version.gitVersion=v$KUBERNETES_VERSION \
      -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  wrapper "$work/etcd"
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go build -trimpath -o "$bin/etcd" -ldflags "$LDS" go.etcd.io/etcd/server/v3
}

build_kwok() {
  GOBIN="$bin" go install -trimpath -ldflags "$LDS -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
}

all=(kwok etcd kubernetes_provider pulumi kubernetes)
components=("$@"); [[ ${#components[@]} -gt 0 ]] || components=("${all[@]}")
failed=()
for c in "${components[@]}"; do
  ( step "$c" "build_$c" ) || { log "FAILED: $c"; failed+=("$c"); }
done
if [[ ${#failed[@]} -gt 0 ]]; then log "failed: ${failed[*]}"; exit 1; fi
echo "$bin"
