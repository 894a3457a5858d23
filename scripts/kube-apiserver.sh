#!/usr/bin/env bash
# Builds the real kube-apiserver used by `make test-k8s` (issue 11) from internal/kubeapiserver, a
# nested module, once: the cold build costs ~1,100 CPU-seconds, so the binary is kept outside the git
# tree keyed by version and never rebuilt while it is present. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v1.35.4
major=1
minor=35
cache="${XDG_CACHE_HOME:-$HOME/.cache}/avatar-sync/kube-apiserver/${version}"
bin="${cache}/kube-apiserver"

if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  echo "scripts/kube-apiserver.sh: building kube-apiserver ${version} into ${bin} (cold: 10-30 min)" >&2
  pkg=k8s.io/component-base/version
  (cd internal/kubeapiserver && GOTOOLCHAIN=local nice -n 10 go build -trimpath \
    -ldflags "-s -w -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean" \
    -o "${bin}.tmp" .)
  mv "${bin}.tmp" "$bin"
fi
echo "$bin"
