# Sourced by pgbouncer.sh and valkey.sh: `debian_source <pool dir> <tarball> <sha256>` downloads
# an .orig tarball from Debian's archive (${DEBIAN_MIRROR:-http://deb.debian.org/debian}), checks
# it against the checksum the release's Sources index lists, and unpacks it into
# $work/src (one top directory stripped). Sets $work, a temporary directory removed on exit.
debian_source() {
  local pool="$1" tarball="$2" sha256="$3"
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
  curl -sSf -o "$work/$tarball" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}/$pool/$tarball"
  echo "$sha256  $work/$tarball" | sha256sum -c --quiet
  mkdir "$work/src"
  tar xzf "$work/$tarball" -C "$work/src" --strip-components=1
}
