#!/usr/bin/env bash
# The PgBouncer the integration tests start: Debian's own when it is 1.21 or newer (trixie:
# 1.24), else Debian trixie's source package built here (bookworm ships 1.18, which refuses
# max_prepared_statements: prepared statements through transaction pooling need 1.21+).
# Built once into $PHASESTACK_PGBOUNCER_HOME/pgbouncer-<v>: by default /var/cache/phasestack for
# root (the tests run it as the postgres user, who cannot enter /root) and
# ~/.cache/phasestack otherwise. Prints the binary's path on its last line.
set -euo pipefail
VERSION=1.24.1
# pool/main/p/pgbouncer/pgbouncer_1.24.1.orig.tar.gz, as trixie's Sources lists it
SHA256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0

supports() {  # supports BINARY: 1.21 or newer
  local v
  v="$("$1" --version 2>/dev/null | sed -n 's/^PgBouncer \([0-9.]*\).*/\1/p')"
  [[ -n "$v" ]] && printf '1.21\n%s\n' "$v" | sort -V -C
}

if [[ -x /usr/sbin/pgbouncer ]] && supports /usr/sbin/pgbouncer; then
  echo /usr/sbin/pgbouncer; exit 0
fi
if [[ "$(id -u)" == 0 ]]; then home=/var/cache/phasestack; else home="$HOME/.cache/phasestack"; fi
root="${PHASESTACK_PGBOUNCER_HOME:-$home}/pgbouncer-$VERSION"
if [[ -x "$root/bin/pgbouncer" ]] && supports "$root/bin/pgbouncer"; then
  echo "$root/bin/pgbouncer"; exit 0
fi
echo "[pgbouncer] building $VERSION from Debian's source (the installed one is older than 1.21)" >&2
# shellcheck source=debian-source.sh
source "$(dirname "$0")/debian-source.sh"
debian_source pool/main/p/pgbouncer "pgbouncer_$VERSION.orig.tar.gz" "$SHA256"
cd "$work/src"
./configure --quiet --prefix="$root" --without-cares >/dev/null
make -s -j"$(nproc)" >/dev/null 2>&1
make -s install >/dev/null
chmod -R a+rX "$root"
supports "$root/bin/pgbouncer"
echo "$root/bin/pgbouncer"
