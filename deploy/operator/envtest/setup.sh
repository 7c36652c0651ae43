#!/usr/bin/env bash
# The operator tests' control plane, as kubebuilder's envtest has it: etcd
# (Debian's etcd-server, installed when missing and we are root) and
# kube-apiserver, built once from the Kubernetes Go module through the Go
# module proxy and cached outside the repository. Prints the kube-apiserver
# path on stdout.
#
#   deploy/operator/envtest/setup.sh                      # install/build if missing
#   SILOBRIDGE_ENVTEST_DIR=...  KUBE_VERSION=v1.34.4      # overrides
#
# k8s.io/kubernetes cannot be `go install`ed directly: its go.mod replaces the
# staging modules (k8s.io/api, k8s.io/apiserver, ...) with local folders. A
# throw-away wrapper module requires it and pins every staging module to the
# matching v0.x release instead.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
CACHE="${SILOBRIDGE_ENVTEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/silobridge/envtest}"
BIN="$CACHE/$KUBE_VERSION/kube-apiserver"

if ! command -v etcd >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "setup-envtest: installing etcd-server" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >&2; }
    else
        echo "setup-envtest: etcd is not installed (apt-get install etcd-server)" >&2
        exit 1
    fi
fi

if [[ -x "$BIN" ]]; then
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null || { echo "setup-envtest: go is not installed" >&2; exit 1; }

staging_version="v0.${KUBE_VERSION#v1.}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$CACHE/$KUBE_VERSION"

cd "$work"
go mod init silobridge.local/envtest >/dev/null 2>&1
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO

# The staging modules the kubernetes go.mod points at local folders.
kmod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
replaces=()
while read -r mod; do
    replaces+=("-replace=$mod=$mod@$staging_version")
done < <(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$kmod")
go mod edit "-require=k8s.io/kubernetes@$KUBE_VERSION" "${replaces[@]}"
echo "setup-envtest: resolving modules for kubernetes $KUBE_VERSION" >&2
go mod tidy -e >&2 2>&1 || true
go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" >&2
start=$(date +%s)
echo "setup-envtest: building kube-apiserver (takes a while on a small machine)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION" -o "$BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$BIN.tmp" "$BIN"
echo "setup-envtest: built in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
