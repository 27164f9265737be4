# Sourced by alertmanager.sh and prometheus.sh: a server and its CLI built once from their Go
# module into ${CACHE:-~/.cache/phasestack}/<NAME>-<VERSION>/bin. The caller sets NAME, VERSION,
# MOD (module@version), CACHE and COMMANDS (the first answers --version), sources this file
# (which exits printing the bin directory when it is already built), then calls
# `fetch_source`, optionally prepares $work/src, and calls `build_all LDFLAGS`.
# Logs go to stderr; the bin directory is the last line of stdout.
root="${CACHE:-$HOME/.cache/phasestack}/$NAME-$VERSION"
bin="$root/bin"

log() { printf '[%s %s] %s\n' "$NAME" "$(date +%H:%M:%S)" "$*" >&2; }
built() {
  local c
  for c in "${COMMANDS[@]}"; do [[ -x "$bin/$c" ]] || return 1; done
  "$bin/${COMMANDS[0]}" --version >/dev/null 2>&1
}

if built; then echo "$bin"; exit 0; fi
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"; flock 9  # parallel test runs share the cache: one builds, the others wait
if built; then echo "$bin"; exit 0; fi

# as build.sh: no VCS stamping (no .git), go.sum-checked modules, the installed Go only (no
# toolchain download), static binaries; GOCACHE and GOMODCACHE stay at their defaults
# GOWORK=off: a module zip may ship a go.work (Prometheus 3) that -mod=mod refuses
export GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
have="$(go env GOVERSION 2>/dev/null || true)"
if ! printf 'go1.26\n%s\n' "${have:-go0}" | sort -V -C; then
  log "needs Go 1.26 or newer on PATH (found: ${have:-none}); see README, The two commands"
  exit 1
fi
log "building $VERSION from the Go module proxy ($have)"
t0=$SECONDS
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

fetch_source() {  # the module's files, writable, in $work/src; its JSON info in $info
  info="$(go mod download -json "$MOD")"  # a failed download stops here (set -e)
  local dir
  dir="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["Dir"])' "$info")"
  cp -r "$dir" "$work/src"; chmod -R u+w "$work/src"
}

build_all() {  # build_all LDFLAGS: every command, then publish bin/ whole
  mkdir -p "$work/bin"
  local c
  for c in "${COMMANDS[@]}"; do
    (cd "$work/src" && go build -trimpath -tags netgo -ldflags "$1" -o "$work/bin/$c" "./cmd/$c")
  done
  "$work/bin/${COMMANDS[0]}" --version >/dev/null
  # a half-built bin/ is never there to pass built()
  rm -rf "$root"; mkdir -p "$root"; mv "$work/bin" "$bin"
  chmod -R a+rX "$root"
  built
  log "built in $((SECONDS - t0)) s: $bin"
  echo "$bin"
}
