#!/usr/bin/env bash
# The Redis-compatible server the integration tests start: Valkey, the version of the stack's
# image (redis.image, valkey/valkey:9.1.2-alpine), built from Debian's source package (sid's
# pool/main/v/valkey). Debian 12 ships redis-server 7.0.15, past upstream maintenance since
# July 2024, and no maintained Redis or Valkey binary (bookworm-backports: Valkey 8.0.1).
# `make install` adds the redis-server/redis-cli/redis-benchmark names as links to the Valkey
# binaries, as in the image, so scripts and runbook commands run unchanged.
# Built once into ${PHASESTACK_VALKEY_HOME:-~/.cache/phasestack}/valkey-<v> (4-5 minutes on
# 2 cores shared with other work, jemalloc included); prints the bin directory on its last line.
set -euo pipefail
VERSION=9.1.2
# pool/main/v/valkey/valkey_9.1.2.orig.tar.gz, as sid's Sources lists it
SHA256=8e8557da7426a51b4e0fb514a65ef6241dc7c85cb408243af389070abf379cec
root="${PHASESTACK_VALKEY_HOME:-$HOME/.cache/phasestack}/valkey-$VERSION"

built() { "$root/bin/valkey-server" --version 2>/dev/null | grep -q "v=$VERSION "; }

if built && [[ -x "$root/bin/redis-cli" ]]; then
  echo "$root/bin"; exit 0
fi
echo "[valkey] building $VERSION from Debian's source package (once, ~5 min)" >&2
# shellcheck source=debian-source.sh
source "$(dirname "$0")/debian-source.sh"
debian_source pool/main/v/valkey "valkey_$VERSION.orig.tar.gz" "$SHA256"
# the image's own build: bundled jemalloc, default (yes) Redis-name links
make -s -C "$work/src" -j"$(nproc)" >"$work/build.log" 2>&1 || { tail -20 "$work/build.log" >&2; exit 1; }
make -s -C "$work/src" install PREFIX="$root" >/dev/null
built
echo "$root/bin"
