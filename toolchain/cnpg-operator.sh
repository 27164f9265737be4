#!/usr/bin/env bash
# The CloudNativePG operator itself (`manager controller`), for the e2e tests to run as a host
# process against the kwok cluster, so that the release manifest's webhooks are answered and
# Clusters are reconciled (tests/e2e). Built from the operator's Go module
# (github.com/cloudnative-pg/cloudnative-pg, the one toolchain/cnpg.sh takes the manifest from)
# on the Go module proxy (GitHub and container registries are unreachable here).
#
# The proxy does not serve two of v1.30.1's dependencies: machinery v0.6.0 (its .mod only, the
# zip is refused) and barman-cloud v0.6.0 (nothing), so they are replaced by the versions
# v1.30.0 uses, machinery v0.5.0 and barman-cloud v0.5.1, and the three places that use what
# only the newer ones have are patched out (each patch is checked to apply):
#   - pkg/management/postgres/logpipe/fifo.go: compatibility.ErrExistsNotFifo (instance manager,
#     log FIFO recovery: a local sentinel that is never returned);
#   - pkg/management/postgres/restore.go: data.restoreAdditionalCommandArgs (instance manager,
#     barman-cloud-restore arguments: not passed; the Go type lacks the field, so the mutating
#     webhook also drops that field, new in 1.30.1, from a Cluster that sets it);
#   - cmd/manager/main.go: log.ConfigureOption (log sampling of the in-pod subcommands; the
#     controller passes no option in 1.30.1 either).
# The controller code the tests exercise (webhooks, reconcilers, PKI) is 1.30.1's, unchanged.
#
# Built once into ${PHASESTACK_CNPG_OPERATOR_HOME:-~/.cache/phasestack}/cnpg-operator-<v>/bin:
#   bin/manager                    the operator (`manager controller`, `manager version`)
#   bin/operator/manager_<goarch>  a symlink to it: the operator looks for the instance
#                                  manager binaries it would inject into pods by the glob
#                                  operator/manager_* relative to its working directory (the
#                                  image's /operator), and without one it refuses to reconcile
#                                  ("invalid architecture"); so start it with bin/ as its cwd.
# Prints the bin directory on its last line (logs go to stderr), like go-server.sh, whose
# helpers it mirrors rather than sources: those check `<command> --version`, which the manager
# has not (it has a `version` subcommand).
set -euo pipefail
NAME=cnpg-operator VERSION=1.30.1
MOD=github.com/cloudnative-pg/cloudnative-pg@v$VERSION
root="${PHASESTACK_CNPG_OPERATOR_HOME:-$HOME/.cache/phasestack}/$NAME-$VERSION"
bin="$root/bin"

log() { printf '[%s %s] %s\n' "$NAME" "$(date +%H:%M:%S)" "$*" >&2; }
built() {
  [[ -x "$bin/manager" ]] && compgen -G "$bin/operator/manager_*" >/dev/null || return 1
  "$bin/manager" version 2>/dev/null | grep -q "Version:$VERSION "
}

if built; then echo "$bin"; exit 0; fi
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"; flock 9  # parallel test runs share the cache: one builds, the others wait
if built; then echo "$bin"; exit 0; fi

# as go-server.sh: no VCS stamping, go.sum-checked modules, the installed Go only, static
# binary, no go.work; GOCACHE and GOMODCACHE stay at their defaults
export GOFLAGS="-buildvcs=false -mod=mod" GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
have="$(go env GOVERSION 2>/dev/null || true)"
if ! printf 'go1.26\n%s\n' "${have:-go0}" | sort -V -C; then  # its go.mod asks for go 1.26.6
  log "needs Go 1.26 or newer on PATH (found: ${have:-none}); see README, The two commands"
  exit 1
fi
log "building $VERSION from the Go module proxy ($have)"
t0=$SECONDS
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

info="$(go mod download -json "$MOD")"  # a failed download stops here (set -e)
dir="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["Dir"])' "$info")"
cp -r "$dir" "$work/src"; chmod -R u+w "$work/src"
cd "$work/src"
go mod edit -replace=github.com/cloudnative-pg/machinery=github.com/cloudnative-pg/machinery@v0.5.0 \
  -replace=github.com/cloudnative-pg/barman-cloud=github.com/cloudnative-pg/barman-cloud@v0.5.1
python3 - <<'EOF'

def patch(path, old, new):
    text = open(path).read()
    if text.count(old) != 1:
        raise SystemExit(f"cnpg-operator.sh: patch does not apply to {path}: {old!r}")
    open(path, "w").write(text.replace(old, new))

patch("pkg/management/postgres/logpipe/fifo.go", "compatibility.ErrExistsNotFifo",
      "errExistsNotFifo")
with open("pkg/management/postgres/logpipe/fifo.go", "a") as f:
    f.write("\n// errExistsNotFifo stands in for machinery v0.6.0's compatibility.ErrExistsNotFifo"
            "\n// (the proxy serves v0.5.0 only): never returned\n"
            "var errExistsNotFifo = errors.New(\"exists and is not a FIFO\")\n")
patch("pkg/management/postgres/restore.go",
      "\tif barmanConfiguration != nil {\n"
      "\t\toptions = barmanConfiguration.Data.AppendRestoreAdditionalCommandArgs(options)\n"
      "\t}\n",
      "\t_ = barmanConfiguration // barman-cloud v0.5.1: no data.restoreAdditionalCommandArgs\n")
patch("cmd/manager/main.go", "logFlags.ConfigureLogging(loggingOptions(cmd)...)",
      "_ = cmd // machinery v0.5.0 has no log.ConfigureOption\n\t\t\tlogFlags.ConfigureLogging()")
text = open("cmd/manager/main.go").read()
start = text.index("func loggingOptions(")
text = text[:start] + text[text.index("\n}\n", start) + 3:]
open("cmd/manager/main.go", "w").write(text)
EOF
# the Makefile's version stamp (the commit and date are not in the module zip)
mkdir -p "$work/bin/operator"
go build -trimpath -tags netgo -o "$work/bin/manager" \
  -ldflags "-s -w -X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=$VERSION" \
  ./cmd/manager
ln -s ../manager "$work/bin/operator/manager_$(go env GOARCH)"
"$work/bin/manager" version >/dev/null
# a half-built bin/ is never there to pass built()
rm -rf "$root"; mkdir -p "$root"; mv "$work/bin" "$bin"
chmod -R a+rX "$root"
built
log "built in $((SECONDS - t0)) s: $bin"
echo "$bin"
