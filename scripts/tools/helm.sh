#!/usr/bin/env bash
# Prints the path of a Helm 4 binary built from its Go module (the Go module proxy
# is the only place Helm comes from here), building it once into a cache folder.
set -euo pipefail
version=v4.3.2
cache="${AISPM_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aispm/tools}/helm-$version"
if [ ! -x "$cache/helm" ]; then
  command -v go >/dev/null || { echo "helm.sh: Go 1.26 is needed to build Helm $version; install Go and put it on PATH" >&2; exit 1; }
  echo "building Helm $version from its Go module into $cache (once; a few minutes)" >&2
  mkdir -p "$cache"
  GOBIN="$cache" GOFLAGS=-mod=mod go install "helm.sh/helm/v4/cmd/helm@$version" >&2
fi
echo "$cache/helm"
