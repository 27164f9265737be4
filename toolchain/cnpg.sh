#!/usr/bin/env bash
# CloudNativePG's release manifest (operator Deployment, RBAC, webhooks and its CRDs), which the
# Pulumi program applies for postgres.engine: cloudnativepg, vendored gzipped in
# phasestack/vendor/ so that a deploy needs no download. The source is the operator's Go module
# (github.com/cloudnative-pg/cloudnative-pg, releases/cnpg-<v>.yaml), from the Go module proxy,
# whose checksum database vouches for it (GitHub release downloads are unreachable here).
#   toolchain/cnpg.sh          check that the vendored copy is byte for byte the module's
#   toolchain/cnpg.sh update   write the vendored copy from the module
# Prints the vendored file on its last line.
set -euo pipefail
VERSION=1.30.1
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENDORED="$ROOT/phasestack/vendor/cnpg-$VERSION.yaml.gz"
dir="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json \
        "github.com/cloudnative-pg/cloudnative-pg@v$VERSION" \
      | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
source="$dir/releases/cnpg-$VERSION.yaml"
if [ "${1:-}" = update ]; then
  gzip -9nc "$source" > "$VENDORED.tmp" && mv "$VENDORED.tmp" "$VENDORED"
elif ! cmp -s <(gzip -dc "$VENDORED") "$source"; then
  echo "cnpg.sh: $VENDORED is not the module's releases/cnpg-$VERSION.yaml" \
       "(toolchain/cnpg.sh update rewrites it)" >&2
  exit 1
fi
echo "$VENDORED"
