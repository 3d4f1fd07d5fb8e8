#!/usr/bin/env bash
# Build the pinned test-cluster binaries from upstream Go modules (see docs/test-cluster.md).
#
#   tools/cluster/build_bins.sh [OUT_DIR]     (default: tools/cluster/bin, git-ignored)
#
# Each binary is skipped when it already exists in OUT_DIR. Builds run one at a time (go build already
# uses every core). Pins live in tools/cluster/modules/*/go.mod (+ go.sum). Set DATAMILL_CLUSTER_BINS to a
# directory of prebuilt binaries to skip this script entirely (the harness reads it directly).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-${HERE}/bin}"
mkdir -p "${OUT}"
OUT="$(cd "${OUT}" && pwd)"

KUBE_VERSION="v1.36.3"   # keep in step with modules/kubernetes/go.mod
KWOK_VERSION="v0.8.0"    # keep in step with modules/kwok/go.mod
ETCD_VERSION="3.6.16"    # keep in step with modules/etcd/go.mod

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0

kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=36 \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=${KUBE_VERSION} \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=36"
kwok_ldflags="-s -w \
 -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION} \
 -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION}"

# name  module-dir  package  ldflags
targets=(
  "etcd|etcd|go.etcd.io/etcd/server/v3|-s -w"
  "kube-apiserver|kubernetes|k8s.io/kubernetes/cmd/kube-apiserver|${kube_ldflags}"
  "kube-controller-manager|kubernetes|k8s.io/kubernetes/cmd/kube-controller-manager|${kube_ldflags}"
  "kube-scheduler|kubernetes|k8s.io/kubernetes/cmd/kube-scheduler|${kube_ldflags}"
  "kwok|kwok|sigs.k8s.io/kwok/cmd/kwok|${kwok_ldflags}"
  "kwokctl|kwok|sigs.k8s.io/kwok/cmd/kwokctl|${kwok_ldflags}"
)

if ! command -v go >/dev/null 2>&1; then
  echo "cluster-bins: the Go toolchain (go 1.26+) is needed to build the test control plane; install it or set" \
       "DATAMILL_CLUSTER_BINS to a directory of prebuilt binaries" >&2
  exit 1
fi

# Rebuild everything when the pins change: the stamp is a hash of the module files and versions.
stamp="$(cat "${HERE}"/modules/*/go.mod "${HERE}"/modules/*/go.sum | sha256sum | cut -c1-16)-${KUBE_VERSION}-${KWOK_VERSION}"
if [[ -f "${OUT}/.build-stamp" && "$(cat "${OUT}/.build-stamp")" != "${stamp}" ]]; then
  echo "cluster-bins: pins changed since the last build; rebuilding"
  for t in "${targets[@]}"; do rm -f "${OUT}/${t%%|*}"; done
fi

fail=0
total_start=$(date +%s)
for t in "${targets[@]}"; do
  IFS='|' read -r name dir pkg ldflags <<<"${t}"
  if [[ -x "${OUT}/${name}" ]]; then
    echo "cluster-bins: ${name} present, skipping"
    continue
  fi
  start=$(date +%s)
  echo "cluster-bins: building ${name} (${pkg}) ..."
  if (cd "${HERE}/modules/${dir}" && go build -trimpath -ldflags="${ldflags}" -o "${OUT}/${name}.tmp" "${pkg}"); then
    mv "${OUT}/${name}.tmp" "${OUT}/${name}"
    echo "cluster-bins: ${name} built in $(( $(date +%s) - start ))s"
  else
    rm -f "${OUT}/${name}.tmp"
    echo "cluster-bins: FAILED to build ${name} from ${pkg} (module dir tools/cluster/modules/${dir})" >&2
    fail=1
  fi
done
if [[ "${fail}" == 0 ]]; then echo "${stamp}" > "${OUT}/.build-stamp"; fi
echo "cluster-bins: done in $(( $(date +%s) - total_start ))s (etcd ${ETCD_VERSION}, kubernetes ${KUBE_VERSION}, kwok ${KWOK_VERSION})"
exit "${fail}"
